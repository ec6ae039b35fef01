/** The hosted sign-in surface. Encapsulated: it parses forms, answers HTML, and keeps its own error page. */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { Outbound } from '../platform/outbound.ts';
import { cookieSupport } from '../platform/cookies.ts';
import { htmlErrorHandler, signinRoutes, type SigninDeps } from './routes.ts';
import { upstreamRoutes } from './upstream-routes.ts';
import { connectionSigninRoutes } from './connection-routes.ts';

/** `outbound`: the bounded fetcher, for upstream discovery, JWKS and token requests. */
export async function signinPlugin(app: FastifyInstance, deps: SigninDeps & { outbound: Outbound }) {
  await app.register(formbody);
  await cookieSupport(app);
  app.setErrorHandler(htmlErrorHandler('sign-in'));
  signinRoutes(app, deps);
  upstreamRoutes(app, deps);
  connectionSigninRoutes(app, deps);
}
