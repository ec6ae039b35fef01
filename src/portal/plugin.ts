/** The Admin Portal's pages (page-routes.ts): encapsulated, with their own form parser, cookies and HTML error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { messagePage } from '../signin/pages.ts';
import { htmlReply } from '../signin/routes.ts';
import { portalPageRoutes, type PortalPagesDeps } from './page-routes.ts';

export async function portalPagesPlugin(app: FastifyInstance, deps: PortalPagesDeps) {
  // Uploaded metadata XML and certificates come as form fields (read from the file in the page).
  await app.register(formbody, { bodyLimit: 1024 * 1024 + 16_384 });
  await cookieSupport(app);
  app.setErrorHandler((err: { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'portal page failure');
    return htmlReply(reply, status, messagePage({ title: 'Something went wrong', tenantName: request.tenant?.displayName ?? '', message: status === 500 ? 'Please try again.' : 'The request was not valid.', status: 'error' }));
  });
  portalPageRoutes(app, deps);
}
