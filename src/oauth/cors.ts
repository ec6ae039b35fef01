/**
 * CORS (Fetch standard §3.2) for browser clients (ClientSideApplication). Never with credentials: cookies are not
 * allowed cross-origin anywhere.
 * - Token, revocation and UserInfo answers carry `Access-Control-Allow-Origin` only when the Origin is one the
 *   client the request is for registered (`allowedCorsOrigins`): the authenticated client at the token and
 *   revocation endpoints, the access token's client at UserInfo. Another SPA's origin cannot read them.
 * - Discovery and JWKS are public documents: any origin a ClientSideApplication of the tenant registered.
 * - Preflights carry no body, so no client: they allow an origin registered by some ClientSideApplication of the
 *   tenant, and only the method and request headers that endpoint needs. Whether the answer may then be read is
 *   decided on the actual response, as above.
 */
import type { FastifyInstance } from 'fastify';
import type { ClientDirectory } from '../downstream/directory.ts';
import { TOKEN_PATH } from './routes/token.ts';
import { REVOCATION_PATH } from './routes/revoke.ts';
import { USERINFO_PATH } from './routes/userinfo.ts';
import { JWKS_PATH } from './routes/jwks.ts';

interface CorsPath {
  methods: string;
  headers: string;
  /** Allowed per client (the request's own client), or per tenant (public documents). */
  perClient: boolean;
}

const CORS_PATHS = new Map<string, CorsPath>([
  [TOKEN_PATH, { methods: 'POST', headers: 'Content-Type, DPoP', perClient: true }],
  [REVOCATION_PATH, { methods: 'POST', headers: 'Content-Type, DPoP', perClient: true }],
  [USERINFO_PATH, { methods: 'GET, POST', headers: 'Authorization, Content-Type, DPoP', perClient: true }],
  [JWKS_PATH, { methods: 'GET', headers: '', perClient: false }],
  ['/.well-known/openid-configuration', { methods: 'GET', headers: '', perClient: false }],
  ['/.well-known/oauth-authorization-server', { methods: 'GET', headers: '', perClient: false }],
]);

export function corsSupport(app: FastifyInstance, deps: { directory: ClientDirectory }) {
  const pathOf = (url: string) => {
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  };

  // Preflight: answered before anything else runs.
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    // Most token requests come from servers: no Origin, no work.
    if (!origin || request.method !== 'OPTIONS') return done();
    const path = CORS_PATHS.get(pathOf(request.url));
    if (!path) return done();
    deps.directory.corsOrigins(request.tenant.id).then((allowed) => {
      reply.header('Vary', 'Origin');
      if (allowed.has(origin)) {
        reply.header('Access-Control-Allow-Origin', origin).header('Access-Control-Allow-Methods', path.methods).header('Access-Control-Max-Age', '600');
        if (path.headers) reply.header('Access-Control-Allow-Headers', path.headers);
      }
      reply.status(204).send();
    }, done);
  });
  for (const path of CORS_PATHS.keys()) app.options(path, { schema: { hide: true } }, async (_request, reply) => reply.status(204).send());

  // The actual response: readable by the origin only when allowed for this request's client (or tenant).
  app.addHook('onSend', (request, reply, payload, done) => {
    const origin = request.headers.origin;
    if (!origin || request.method === 'OPTIONS' || !request.tenant) return done(null, payload);
    const path = CORS_PATHS.get(pathOf(request.url));
    if (!path) return done(null, payload);
    reply.header('Vary', 'Origin');
    const allowed = path.perClient
      ? request.clientId
        ? deps.directory.client(request.tenant.id, request.clientId).then((e) => e?.client.clientType === 'ClientSideApplication' && e.client.allowedCorsOrigins.includes(origin))
        : Promise.resolve(false)
      : deps.directory.corsOrigins(request.tenant.id).then((set) => set.has(origin));
    allowed.then((ok) => {
      if (ok) reply.header('Access-Control-Allow-Origin', origin);
      done(null, payload);
    }, (err: Error) => done(err));
  });
}
