export * from './tenancy.ts';
export * from './downstream.ts';
export * from './oauth.ts';
export * from './users.ts';
export * from './upstream.ts';
export * from './audit.ts';
export * from './scim.ts';
export * from './organizations.ts';
