/** The hosted sign-in surface. Encapsulated: it parses forms, answers HTML, and keeps its own error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { Outbound } from '../platform/outbound.ts';
import { cookieSupport } from '../platform/cookies.ts';
import { messagePage } from './pages.ts';
import { htmlReply, signinRoutes, type SigninDeps } from './routes.ts';
import { upstreamRoutes } from './upstream-routes.ts';
import { connectionSigninRoutes } from './connection-routes.ts';

/** `outbound`: the bounded fetcher, for upstream discovery, JWKS and token requests. */
export async function signinPlugin(app: FastifyInstance, deps: SigninDeps & { outbound: Outbound }) {
  await app.register(formbody);
  await cookieSupport(app);
  app.setErrorHandler((err: { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'sign-in failure');
    return htmlReply(reply, status, messagePage({ title: 'Something went wrong', tenantName: request.tenant?.displayName ?? '', message: status === 500 ? 'Please try again.' : 'The request was not valid.', status: 'error' }));
  });
  signinRoutes(app, deps);
  upstreamRoutes(app, deps);
  connectionSigninRoutes(app, deps);
}
