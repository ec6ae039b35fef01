/**
 * SCIM 2.0 service provider at /scim/v2: RFC 7643 (schema) and RFC 7644 (protocol).
 * https://www.rfc-editor.org/rfc/rfc7644
 * An encapsulated plugin: its JSON parser (application/scim+json and application/json), error handler (RFC 7644
 * §3.12 bodies), not-found handler and bearer-token hook stay inside. Discovery has a context of its own without the
 * hook (RFC 7644 §4: discovery needs no authentication); everything else needs scim.read or scim.write.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TenantScope } from '../platform/db.ts';
import type { ScimMetrics } from '../platform/metrics.ts';
import { SECURITY_SCHEME } from '../platform/openapi.ts';
import { scimAuthHook, SCIM_WRITE, type ScimAuthStrategy } from './auth.ts';
import { ScimError, scimErrorHandler } from './errors.ts';
import { registerJsonParser, sendScim } from './media.ts';
import { RESOURCE_MAX_PAYLOAD_BYTES } from './limits.ts';
import { scimDiscoveryRoutes } from './routes/discovery.ts';
import { scimUserRoutes } from './routes/users.ts';
import { scimGroupRoutes } from './routes/groups.ts';
import { scimBulkRoutes } from './routes/bulk.ts';
import { scimRootRoutes } from './routes/root.ts';
import type { ScimInviter } from './invitations.ts';

export interface ScimPluginOptions {
  /** The tenant's own users (`/scim/v2`), or one directory's partition at its own base URL (ADR 0010). */
  scopeOf(request: FastifyRequest): TenantScope;
  /** This mount's path under the issuer, for `meta.location` (e.g. `/scim/v2`, `/directories/<id>/scim/v2`). */
  basePath(request: FastifyRequest): string;
  /** Tried in order; the first that recognises the bearer credential decides (auth.ts). */
  strategies: readonly ScimAuthStrategy[];
  metrics: ScimMetrics;
  /** Sends `sendInvitation: true` invitations (src/invitations); without it they are only recorded. */
  invite?: ScimInviter | undefined;
}

/** `/scim/v2/Users/:id` → `Users`; the root query (`/`, `/.search`) → `root`. Route templates only, so bounded. */
function scimResource(routeUrl: string, prefix: string): string {
  const first = routeUrl.slice(prefix.length).split('/')[1] ?? '';
  return first === '' || first === '.search' ? 'root' : first;
}

export async function scimPlugin(app: FastifyInstance, opts: ScimPluginOptions) {
  app.decorateRequest('scimPrincipal', null);
  app.decorateRequest('scimBasePath', '');
  app.addHook('onRequest', async (request) => {
    request.scimBasePath = opts.basePath(request);
  });
  app.setErrorHandler(scimErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendScim(request, reply.status(404), new ScimError(404, undefined, `No SCIM endpoint ${request.method} ${request.url.split('?')[0]}.`).body()),
  );
  // Trailing slashes: `GET /Users/?filter=…` is `/Users`, not `/Users/{id}` with an empty id. Every SCIM route gets a
  // twin with a trailing slash, left out of the OpenAPI document (the router itself stays strict, as for /api).
  app.addHook('onRoute', function trailingSlashTwin(route) {
    const path = route.routePath;
    // HEAD routes are Fastify's automatic twins of GET routes; the GET twin brings its own.
    if (!path || path.endsWith('/') || route.method === 'HEAD') return;
    const schema = route.schema ? { ...route.schema, hide: true, ...(route.schema.operationId ? { operationId: `${route.schema.operationId}.slash` } : {}) } : undefined;
    this.route({ ...route, url: `${path}/`, ...(schema ? { schema } : {}) });
  });
  registerJsonParser(app, RESOURCE_MAX_PAYLOAD_BYTES);
  app.removeContentTypeParser('text/plain');

  await app.register(async function scimDiscovery(discovery) {
    scimDiscoveryRoutes(discovery, opts);
  });

  await app.register(async function scimResources(resources) {
    // Every resource request counts, refused ones (401, 403, 4xx) included: a provisioning client failing is the signal.
    resources.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url;
      if (route) opts.metrics.recordScimOperation(scimResource(route, app.prefix), request.method, reply.statusCode);
      done();
    });
    resources.addHook('onRequest', scimAuthHook(opts.strategies));
    resources.addHook('onRoute', (route) => {
      const scope = (route.config as { scimScope?: string } | undefined)?.scimScope ?? SCIM_WRITE;
      route.schema = { ...route.schema, security: [{ [SECURITY_SCHEME]: [scope] }] };
    });
    scimUserRoutes(resources, opts);
    scimGroupRoutes(resources, opts);
    scimBulkRoutes(resources, opts);
    scimRootRoutes(resources, opts);
  });
}
