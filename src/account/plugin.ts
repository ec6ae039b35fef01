/** The account page (routes.ts): encapsulated, with its own form parser, cookies and HTML error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { messagePage } from '../signin/pages.ts';
import { htmlReply } from '../signin/routes.ts';
import { accountRoutes, type AccountDeps } from './routes.ts';

export async function accountPlugin(app: FastifyInstance, deps: AccountDeps) {
  await app.register(formbody, { bodyLimit: 16_384 });
  await cookieSupport(app);
  app.setErrorHandler((err: { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'account page failure');
    return htmlReply(reply, status, messagePage({ title: 'Something went wrong', tenantName: request.tenant?.displayName ?? '', message: status === 500 ? 'Please try again.' : 'The request was not valid.', status: 'error' }));
  });
  accountRoutes(app, deps);
}
