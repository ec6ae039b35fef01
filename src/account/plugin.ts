/** The account page (routes.ts): encapsulated, with its own form parser, cookies and HTML error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { htmlErrorHandler } from '../signin/routes.ts';
import { accountRoutes, type AccountDeps } from './routes.ts';

export async function accountPlugin(app: FastifyInstance, deps: AccountDeps) {
  await app.register(formbody, { bodyLimit: 16_384 });
  await cookieSupport(app);
  app.setErrorHandler(htmlErrorHandler('account page'));
  accountRoutes(app, deps);
}
