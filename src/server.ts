/**
 * The process: configuration, the database (embedded PostgreSQL when DATABASE_URL is unset), migrations, first-start
 * bootstrap, listening, and graceful shutdown. Nothing testable lives here; `buildApp` is the service.
 */
// First: tracing patches node:http and pg as they load (src/instrumentation.ts).
import { tracing } from './instrumentation.ts';
import { loadDotEnv, loadConfig, ConfigError, type Config } from './platform/config.ts';
import { forTenant, openDatabase, runMigrations } from './platform/db.ts';
import { findTenantBySlug } from './platform/tenancy/tenant.global.ts';
import { setUpDemoOrganization } from './simulator/service.ts';
import { keyring, loadMasterKey } from './platform/crypto.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from './platform/embedded-postgres.ts';
import { buildApp } from './app.ts';
import { ensureBootstrap } from './tenancy/tenants.global.ts';
import { printCredentials } from './cli/print.ts';
import { KEY_ROTATION_JOB, masterKeyOpensStoredKeys, PURGE_JOB, purgeExpired, rotateDueKeys } from './oauth/maintenance.global.ts';
import { checkUpstreamSecretExpiry, UPSTREAM_SECRET_EXPIRY_JOB } from './upstream/expiry.global.ts';
import { DOMAIN_VERIFICATION_JOB, recheckDueDomains } from './organizations/domain-verification.global.ts';
import { txtResolver } from './organizations/dns.ts';
import { purgeExpiredSamlAssertions } from './connections/maintenance.global.ts';
import { SAML_UPKEEP_JOB, samlConnectionUpkeep } from './connections/saml-upkeep.global.ts';
import { deleteExpiredEvents, EVENT_RETENTION_JOB } from './events/retention.global.ts';
import { DELIVERY_LOG_RETENTION_JOB, pruneDeliveryLogs, sweepWebhookDispatch } from './webhooks/sweep.global.ts';
import { DISPATCH_SWEEP_JOB } from './webhooks/delivery.ts';

/** What start-up has started so far, stopped in reverse order when start-up fails (PostgreSQL is never orphaned). */
const started: (() => Promise<unknown>)[] = [];

/** A start-up failure the operator can act on: one line, no stack. */
class StartupError extends Error {}

async function main(config: Config) {
  let embedded: EmbeddedServer | undefined;
  let url = config.DATABASE_URL;
  const bootLog = (msg: string) => process.stderr.write(JSON.stringify({ level: 30, time: Date.now(), msg }) + '\n');
  if (!url) {
    bootLog(`database: embedded PostgreSQL in ${config.DATA_DIR} on 127.0.0.1:${config.EMBEDDED_PG_PORT}`);
    embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_PG_PORT, notice: bootLog }).catch((err: Error) => {
      throw new StartupError(err.message);
    });
    started.push(embedded.stop);
    url = embedded.url();
  } else {
    bootLog(`database: external PostgreSQL at ${new URL(url).host}`);
  }
  const database = openDatabase(url, { max: config.DB_POOL_SIZE });
  started.push(database.close);
  if (config.RUN_MIGRATIONS) await runMigrations(database);
  const keys = keyring(await loadMasterKey(config.MASTER_KEY, config.DATA_DIR));
  if (!(await masterKeyOpensStoredKeys(database.global, keys))) {
    throw new StartupError('MASTER_KEY does not open the stored signing keys: it is not the key this database was set up with');
  }

  const publicUrl = new URL(config.PUBLIC_URL);
  const created = await ensureBootstrap(database.global, keys, {
    slug: config.DEFAULT_TENANT_SLUG,
    issuer: config.PUBLIC_URL,
    hosts: [publicUrl.host, publicUrl.hostname],
    bootstrapClientId: config.BOOTSTRAP_CLIENT_ID,
    bootstrapClientSecret: config.BOOTSTRAP_CLIENT_SECRET,
  });
  // The "introductory email": shown once on the terminal, never logged and never shown again.
  if (created) printCredentials(created, { generated: !config.BOOTSTRAP_CLIENT_SECRET });

  const app = await buildApp({ config, database, keyring: keys, jobsWorker: true });
  started.push(() => app.close());
  if (config.IDP_SIMULATOR !== 'off') {
    app.log.warn({ IDP_SIMULATOR: config.IDP_SIMULATOR }, 'IdP simulator enabled: anyone can sign in as anyone through its connections; never in production');
    const tenant = (await findTenantBySlug(database.global, config.DEFAULT_TENANT_SLUG))!;
    const demo = await setUpDemoOrganization(forTenant(database.db, tenant.id), keys, tenant.issuer);
    app.log.info(
      { organizationId: demo.organization.id, samlConnectionId: demo.saml.id, oidcConnectionId: demo.oidc.id, skippedDomains: demo.skippedDomains },
      `IdP simulator: organization "${demo.organization.displayName}" signs in example.com and example.org at ${tenant.issuer}/login`,
    );
  }
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    let failed = false;
    // Each step runs even when an earlier one failed: PostgreSQL must not be left running.
    const step = async (name: string, fn: () => Promise<unknown> | undefined) => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        app.log.error({ err, step: name }, 'shutdown step failed');
      }
    };
    await step('http', () => app.close()); // stops accepting, waits for in-flight requests
    await step('pool', () => database.close());
    await step('tracing', () => tracing?.shutdown()); // exports the spans still buffered
    await step('postgres', () => embedded?.stop());
    app.log.info('stopped');
    process.exit(failed ? 1 : 0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await app.listen({ port: config.PORT, host: config.LISTEN_HOST });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.PORT} on ${config.LISTEN_HOST} is already in use (PORT, LISTEN_HOST)`);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new StartupError(`cannot listen on ${config.LISTEN_HOST}:${config.PORT} (${code})`);
    throw err;
  }
  // Running: from here on, shutdown() stops what start-up started.
  started.length = 0;
  // Background jobs (pg-boss, in this database): maintenance and warnings. Requests are served without them.
  try {
    await app.services.jobs.work([
        { name: UPSTREAM_SECRET_EXPIRY_JOB, cron: '0 6 * * *', handler: () => checkUpstreamSecretExpiry({ db: database.global, log: app.log }) },
        { name: SAML_UPKEEP_JOB, cron: '10 6 * * *', handler: () => samlConnectionUpkeep({ db: database.global, outbound: app.services.outbound, log: app.log }) },
        { name: PURGE_JOB, cron: '17 * * * *', handler: async () => ({ ...(await purgeExpired(database.global)), samlAssertions: await purgeExpiredSamlAssertions(database.global) }) },
        { name: DISPATCH_SWEEP_JOB, cron: '* * * * *', handler: () => sweepWebhookDispatch(database.global, app.services.jobs) },
        { name: EVENT_RETENTION_JOB, cron: '41 2 * * *', handler: () => deleteExpiredEvents(database.global, config.EVENT_RETENTION_DAYS) },
        { name: DELIVERY_LOG_RETENTION_JOB, cron: '47 2 * * *', handler: () => pruneDeliveryLogs(database.global, config.EVENT_RETENTION_DAYS) },
        // Each pending domain's own backoff decides whether this minute's run looks it up.
        { name: DOMAIN_VERIFICATION_JOB, cron: '* * * * *', handler: () => recheckDueDomains({ db: database.global, resolver: txtResolver(config.DNS_SERVERS) }) },
        ...(config.KEY_ROTATION_DAYS > 0
          ? [{ name: KEY_ROTATION_JOB, cron: '23 3 * * *', handler: () => rotateDueKeys(database.global, app.services.keys, config.KEY_ROTATION_DAYS) }]
          : []),
    ]);
  } catch (err) {
    // A signal during start-up stops pg-boss under `work`: that failure is the shutdown's, not an error.
    if (closing) app.log.info('background jobs not started: shutting down');
    else app.log.error({ err }, 'background jobs did not start');
  }
}

let config: Config;
try {
  loadDotEnv();
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(e.message + '\n');
    process.exit(1);
  }
  throw e;
}
main(config).catch(async (err) => {
  process.stderr.write(`startup failed: ${err instanceof StartupError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
  for (const stop of started.reverse()) await stop().catch(() => undefined);
  process.exit(1);
});
