/** The Admin Portal's pages (page-routes.ts): encapsulated, with their own form parser, cookies and HTML error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { cookieSupport } from '../platform/cookies.ts';
import { htmlErrorHandler } from '../signin/routes.ts';
import { portalPageRoutes, type PortalPagesDeps } from './page-routes.ts';

export async function portalPagesPlugin(app: FastifyInstance, deps: PortalPagesDeps) {
  // Uploaded metadata XML and certificates come as form fields (read from the file in the page).
  await app.register(formbody, { bodyLimit: 1024 * 1024 + 16_384 });
  await cookieSupport(app);
  app.setErrorHandler(htmlErrorHandler('portal page'));
  portalPageRoutes(app, deps);
}
