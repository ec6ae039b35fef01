export * from './tenancy.ts';
export * from './downstream.ts';
export * from './oauth.ts';
