/**
 * buildApp: the whole service as a Fastify instance, with no listening, no signals and no process state, so tests
 * build it and `inject` (fastify/demo `app.ts`). Platform first, then the tenant-scoped capabilities.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './platform/config.ts';
import type { TenantId } from './platform/tenancy/tenant.ts';
import { forDirectory, forTenant, type Database, type ScopeFor } from './platform/db.ts';
import type { Keyring } from './platform/crypto.ts';
import { loggerOptions, requestLogging } from './platform/logging.ts';
import { Problem, PROBLEM_CONTENT_TYPE, problemErrorHandler } from './platform/errors/problem.ts';
import { tenancyPlugin, TenantResolver } from './platform/tenancy/plugin.ts';
import { listTenantHosts, updateTenantDisplayName } from './platform/tenancy/tenant.global.ts';
import { requireScope, type UserAuthority } from './platform/auth.ts';
import { FULL_AUTHORITY } from './platform/permissions.ts';
import { authorityOfUser } from './users/service.ts';
import { userRoleRoutes } from './users/role-routes.ts';
// Each capability's reactions to the others' changes (src/events/in-transaction.ts).
import './oauth/subscriptions.ts';
import './upstream/subscriptions.ts';
import './downstream/subscriptions.ts';
import './directories/subscriptions.ts';
import { opsRoutes } from './platform/ops.ts';
import { apiReferenceRoutes, SECURITY_SCHEME, swaggerPlugin } from './platform/openapi.ts';
import { KeyStore } from './oauth/keys.ts';
import { AccessTokens } from './oauth/tokens.ts';
import { oauthPlugin } from './oauth/plugin.ts';
import { TOKEN_PATH } from './oauth/routes/token.ts';
import { BUILT_IN_APIS, IAM_AUDIENCE, IAM_SCOPE, ORGANIZATION_SCOPE } from './downstream/protected-apis.ts';
import { tenantRoutes } from './tenancy/routes.ts';
import { userRoutes } from './users/routes.ts';
import { roleRoutes } from './roles/routes.ts';
import { upstreamRoutes } from './upstream/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import { recordAudit } from './audit/service.ts';
import { Invalidation } from './platform/invalidation.ts';
import { FailureLimiter } from './platform/rate-limit.ts';
import { outboundFromConfig, type Outbound } from './platform/outbound.ts';
import { Jobs } from './platform/jobs.ts';
import { Metrics } from './platform/metrics.ts';
import { grants } from './oauth/grants/index.ts';
import { CLIENT_TYPES, UPSTREAM_TYPES } from './db/schema/index.ts';
import { Mailer } from './mail/service.ts';
import { mailTransport } from './mail/transport.ts';
import { rejectInvalidCharacters, routeMalformedPaths } from './platform/input-guard.ts';
import { auditTrip } from './audit/rate-limit-trips.ts';
import { ClientDirectory } from './downstream/directory.ts';
import { downstreamRoutes } from './downstream/routes.ts';
import { keysApiRoutes } from './oauth/routes/keys-api.ts';
import { signinPlugin } from './signin/plugin.ts';
import { scimPlugin } from './scim/plugin.ts';
import { accessTokenStrategy } from './scim/auth.ts';
import { identitiesRoutes } from './users/identities-routes.ts';
import { organizationRoutes } from './organizations/routes.ts';
import { txtResolver } from './organizations/dns.ts';
import { connectionRoutes } from './connections/routes.ts';
import { directoryRoutes } from './directories/routes.ts';
import { directoryScimMount } from './directories/scim-auth.ts';
import { SCIM_PREFIX } from './scim/routes/shared.ts';
import { invitationRoutes } from './invitations/routes.ts';
import { inviteToTenant } from './invitations/service.ts';
import { invitationPagesPlugin } from './invitations/plugin.ts';
import { accountPlugin } from './account/plugin.ts';
import { eventRoutes } from './events/routes.ts';
import { webhookRoutes } from './webhooks/routes.ts';
import { eventCatalogOpenApi } from './events/catalog.ts';
import { portalRoutes } from './portal/routes.ts';
import { portalPagesPlugin } from './portal/plugin.ts';
import { simulatorPlugin } from './simulator/routes.ts';

export interface AppDeps {
  config: Config;
  database: Database;
  keyring: Keyring;
  /** A logger instance (tests pass one that writes to memory); otherwise pino with `loggerOptions`. */
  logger?: FastifyBaseLogger;
  /** The clock of the failure limiter (ms since the epoch); tests move it. */
  now?: () => number;
  /** True in the process that runs the job workers and schedules (src/server.ts); other apps only send jobs. */
  jobsWorker?: boolean;
  /** The mail queue's name (default `mail.send`); tests give each app its own. */
  mailQueue?: string;
}

export async function buildApp({ config, database, keyring, logger, now, jobsWorker, mailQueue }: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: loggerOptions(config.LOG_LEVEL) }),
    // One line per request comes from `requestLogging`, not Fastify's pair of lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY ? config.TRUST_PROXY.split(',').map((s) => s.trim()) : false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 256 },
    frameworkErrors: routeMalformedPaths(() => app),
  });
  // Prometheus metrics (METRICS_TOKEN): its onResponse hook goes on the root before any context exists.
  const metrics = new Metrics({ token: config.METRICS_TOKEN, pools: { app: database.pool, global: database.globalPool }, queueDepths: () => jobs.queueDepths() });
  metrics.initialize({ grantTypes: [...grants.keys()], clientTypes: CLIENT_TYPES, signinProviders: ['password', ...UPSTREAM_TYPES, 'oidc_connection', 'saml_connection'] });
  metrics.install(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  app.decorateRequest('clientId', null);
  requestLogging(app);
  // NUL bytes and lone surrogates are a 400 at the edge, in each surface's error format (platform/input-guard.ts).
  rejectInvalidCharacters(app);

  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).type(PROBLEM_CONTENT_TYPE).send(new Problem(404, 'not-found', 'Not Found', `No route for ${request.method} ${request.url.split('?')[0]}.`).body()),
  );

  const scopeFor: ScopeFor = (tenantId) => forTenant(database.db, tenantId);
  const directoryScopeFor = (tenantId: TenantId, directoryId: string) => forDirectory(database.db, tenantId, directoryId);
  const invalidation = new Invalidation(database.pool, app.log);
  const directory = new ClientDirectory({ scopeFor, invalidation });
  const keys = new KeyStore({ scopeFor, keyring, invalidation });
  const tokens = new AccessTokens(keys, { directory, scopeFor, invalidation });
  const limiter = new FailureLimiter({ scopeFor, max: config.AUTH_FAILURE_LIMIT, windowMs: 60_000, onTrip: auditTrip, ...(now ? { now } : {}) });
  // The one bounded fetcher for everything the service fetches (platform/outbound.ts).
  const outbound = outboundFromConfig(config);
  const resolver = new TenantResolver({ db: database.global, mode: config.TENANCY_MODE, defaultTenantSlug: config.DEFAULT_TENANT_SLUG });
  /** Every management route and the permission it declares: `METHOD /path` → permission (tests read it). */
  const routePermissions = new Map<string, string>();
  // Background work (pg-boss): capabilities define their queues when they register; `start` runs once all have.
  const jobs = new Jobs({ connectionString: database.url, log: app.log, worker: jobsWorker ?? false, superviseIntervalSeconds: config.JOBS_SUPERVISE_INTERVAL_SECONDS });
  // Outgoing mail through the `mail.send` queue: SMTP_URL, or .eml files under DATA_DIR/mail (src/mail/).
  const mailer = new Mailer({ jobs, keyring, transport: mailTransport(config, app.log), from: config.MAIL_FROM, log: app.log, queue: mailQueue });
  app.decorate('services', { keys, tokens, resolver, directory, invalidation, routePermissions, jobs, metrics, mailer, outbound });
  app.addHook('onReady', () => invalidation.start());
  app.addHook('onReady', () => jobs.start());
  app.addHook('onClose', () => invalidation.stop());
  app.addHook('onClose', () => jobs.stop());
  app.addHook('onClose', () => mailer.close());
  // User tokens hold what their roles grant, read on every request; machine tokens are authorized by scope alone
  // (src/platform/permissions.ts).
  const userAuthority: UserAuthority = (tenant, userId) => authorityOfUser(scopeFor(tenant.id), userId);

  await app.register(swaggerPlugin, {
    tokenPath: TOKEN_PATH,
    scopes: Object.fromEntries(BUILT_IN_APIS.flatMap((a) => a.scopes.map((s) => [s, a.displayName]))),
    webhooks: eventCatalogOpenApi,
  });
  opsRoutes(app, { pool: database.pool, invalidation });

  await app.register(async function tenantScoped(scoped) {
    await scoped.register(tenancyPlugin, { resolver });
    await scoped.register(oauthPlugin, { scopeFor, keyring, keys, tokens, directory, limiter, metrics, accessTokenTtl: config.ACCESS_TOKEN_TTL_SECONDS });
    await scoped.register(signinPlugin, { scopeFor, keyring, limiter, outbound, metrics });
    // The IdP simulator exists only when IDP_SIMULATOR says so (platform/config.ts): it signs in whoever is typed in.
    if (config.IDP_SIMULATOR !== 'off') await scoped.register(simulatorPlugin, { scopeFor, keyring });
    await scoped.register(invitationPagesPlugin, { scopeFor, keyring });
    await scoped.register(accountPlugin, { scopeFor, keyring, limiter });
    const portalClock = now ? { now: () => new Date(now()) } : {};
    await scoped.register(portalPagesPlugin, { scopeFor, keyring, outbound, resolver: txtResolver(config.DNS_SERVERS), ...portalClock });
    // SCIM 2.0 (RFC 7644): its own parser, error bodies and bearer hook. The tenant's own users at /scim/v2, with
    // access tokens; each directory's partition at its own base URL, with that directory's tokens only (ADR 0010).
    await scoped.register(scimPlugin, {
      prefix: SCIM_PREFIX,
      scopeOf: (request) => scopeFor(request.tenant.id),
      basePath: () => SCIM_PREFIX,
      metrics,
      strategies: [accessTokenStrategy(tokens, userAuthority)],
      // STACKIT's sendInvitation: the same invitation email as an organization's, through the mail queue.
      invite: async (tx, actor, tenant, user) => (await inviteToTenant(tx, { mailer, keyring }, tenant, actor, user, 'scim')) !== undefined,
    });
    await scoped.register(scimPlugin, { ...directoryScimMount({ scopeFor, directoryScopeFor, limiter }), metrics });
    await scoped.register(async function managementApi(api) {
      api.setErrorHandler(problemErrorHandler);
      // `/api` speaks JSON only: anything else is 415 rather than a string handed to validation.
      api.removeContentTypeParser('text/plain');
      // Authentication runs before the body is read: unauthenticated callers cannot make us parse anything.
      api.addHook('onRequest', requireScope(tokens, { audience: IAM_AUDIENCE, scope: IAM_SCOPE, organizationScope: ORGANIZATION_SCOPE, machineAuthority: FULL_AUTHORITY, userAuthority }));
      // Every route here declares the permission a user token needs (issue #9: no URL-prefix guessing), and is
      // documented with the scheme and scope the hook above enforces.
      api.addHook('onRoute', (route) => {
        const permission = (route.config as { permission?: string } | undefined)?.permission;
        if (!permission && route.method !== 'HEAD') throw new Error(`management route ${route.method} ${route.url} declares no permission (config.permission)`);
        routePermissions.set(`${route.method} ${route.url}`, permission ?? 'admin');
        route.schema = { ...route.schema, security: [{ [SECURITY_SCHEME]: [IAM_SCOPE] }] };
      });
      // Each capability is a plugin of its own under the management API: it inherits the bearer hook, the permission
      // registry and the RFC 9457 error handler, and keeps whatever it adds to itself.
      const capability = (name: string, register: (instance: FastifyInstance) => void) =>
        api.register(Object.assign(async (instance: FastifyInstance) => register(instance), { [Symbol.for('fastify.display-name')]: name }));
      await capability('tenancy', (p) =>
        tenantRoutes(p, {
          listHosts: (tenantId) => listTenantHosts(database.global, tenantId),
          async updateDisplayName(tenantId, displayName, actor) {
            const tenant = await updateTenantDisplayName(database.global, tenantId, displayName, (tx, before, after) =>
              recordAudit(forTenant(tx, tenantId), actor, { action: 'tenant.update', targetType: 'tenant', targetId: tenantId, before: { displayName: before.displayName }, after: { displayName: after.displayName } }),
            );
            resolver.forget();
            return tenant;
          },
          scopeFor,
        }),
      );
      await capability('downstream', (p) => downstreamRoutes(p, { scopeFor, keyring, invalidation }));
      await capability('users.identities', (p) => identitiesRoutes(p, { scopeFor }));
      await capability('oauth.keys', (p) => keysApiRoutes(p, { keys, scopeFor, maxTokenLifetimeSeconds: 86_400 }));
      await capability('users', (p) => userRoutes(p, { scopeFor }));
      await capability('roles', (p) => roleRoutes(p, { scopeFor }));
      await capability('users.roles', (p) => userRoleRoutes(p, { scopeFor }));
      await capability('upstream', (p) => upstreamRoutes(p, { scopeFor, keyring }));
      await capability('audit', (p) => auditRoutes(p, { scopeFor }));
      await capability('organizations', (p) => organizationRoutes(p, { scopeFor, resolver: txtResolver(config.DNS_SERVERS) }));
      await capability('connections', (p) => connectionRoutes(p, { scopeFor, keyring, outbound }));
      await capability('directories', (p) => directoryRoutes(p, { scopeFor, directoryScopeFor }));
      await capability('invitations', (p) => invitationRoutes(p, { scopeFor, keyring, mailer }));
      await capability('events', (p) => eventRoutes(p, { scopeFor }));
      await capability('webhooks', (p) => webhookRoutes(p, { scopeFor, keyring, outbound, jobs, disableAfterSeconds: config.WEBHOOK_DISABLE_AFTER_SECONDS, retryDelaySeconds: config.WEBHOOK_RETRY_DELAY_SECONDS }));
      await capability('portal', (p) => portalRoutes(p, { scopeFor, keyring, linkTtlSeconds: config.PORTAL_LINK_TTL_SECONDS, ...portalClock }));
    });
    await scoped.register(apiReferenceRoutes, { tokenPath: TOKEN_PATH });
  });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: { keys: KeyStore; tokens: AccessTokens; resolver: TenantResolver; directory: ClientDirectory; invalidation: Invalidation; routePermissions: ReadonlyMap<string, string>; jobs: Jobs; metrics: Metrics; mailer: Mailer; outbound: Outbound };
  }
}
