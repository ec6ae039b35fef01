/** The invitee's pages (accept-routes.ts): encapsulated, with their own form parser, cookies and HTML error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { DomainError, Forbidden } from '../platform/errors/domain.ts';
import { messagePage } from '../signin/pages.ts';
import { htmlReply } from '../signin/routes.ts';
import { acceptRoutes, type AcceptDeps } from './accept-routes.ts';

export async function invitationPagesPlugin(app: FastifyInstance, deps: AcceptDeps) {
  await app.register(formbody, { bodyLimit: 16_384 });
  await cookieSupport(app);
  app.setErrorHandler((err: { statusCode?: number }, request, reply) => {
    const domain = err instanceof Forbidden ? 403 : err instanceof DomainError ? 400 : undefined;
    const status = domain ?? (err.statusCode && err.statusCode < 500 ? err.statusCode : 500);
    if (status === 500) request.log.error({ err }, 'invitation page failure');
    return htmlReply(reply, status, messagePage({ title: 'Something went wrong', tenantName: request.tenant?.displayName ?? '', message: status === 500 ? 'Please try again.' : 'The request was not valid.', status: 'error' }));
  });
  acceptRoutes(app, deps);
}
