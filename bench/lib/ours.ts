/**
 * Target (a): this service, as deployed — `node src/server.ts` in its own process, against PostgreSQL.
 *
 * The database: DATABASE_URL's server when set, otherwise the project's embedded PostgreSQL with its data in
 * `.data/bench-postgres` on a free port. Each run creates a fresh database there, lets the server migrate it and
 * bootstrap the default tenant with credentials chosen here (BOOTSTRAP_CLIENT_ID/SECRET), and drops it at the end.
 * When DATABASE_URL's role may not create databases, the run uses that database as it is: it migrates it, creates
 * a throwaway tenant (`createTenant`) addressed by `127.0.0.1:<port>`, and deletes the tenant afterwards.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/platform/embedded-postgres.ts';
import { openDatabase, runMigrations } from '../../src/platform/db.ts';
import { keyring } from '../../src/platform/crypto.ts';
import { configSchema, loadConfig } from '../../src/platform/config.ts';
import { createTenant } from '../../src/tenancy/tenants.global.ts';
import { REPO_ROOT, freePort, httpOk, spawnNode, waitUntilReady, type Child } from './children.ts';

export interface OursTarget {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  child: Child;
  /** What the report says about the database, e.g. "embedded PostgreSQL 17.6 (same machine)". */
  database: string;
  /** The server's DATABASE_URL (for benchmarks that compare a plan with and without an index). */
  databaseUrl: string;
  /** The PostgreSQL postmaster's pid when it runs on this machine (for CPU accounting). */
  dbPid?: number;
  /** The server's MASTER_KEY (base64), for benchmarks that write tenants or secrets themselves. */
  masterKey: string;
  /** The server's settings, for benchmarks that start a second instance on the same database (PORT replaced). */
  env: NodeJS.ProcessEnv;
  /** Stops the embedded PostgreSQL for `downMs` and starts it again (the soak's outage); undefined with DATABASE_URL. */
  restartDatabase?: (downMs: number) => Promise<void>;
  /** Queries the server has sent to PostgreSQL so far (counted in the server process by count-queries.ts). */
  dbQueries(): Promise<number | undefined>;
  /** Stops the server (gracefully, so a --cpu-prof profile is written), then cleans the database up. */
  stop(): Promise<void>;
}

export interface OursOptions {
  /** Extra Node flags for the server process, e.g. --cpu-prof. */
  execArgv?: string[];
  dbPoolSize?: number;
  /** Further service settings, e.g. AUTH_FAILURE_LIMIT for bench:auth-timing. */
  settings?: Record<string, string>;
  log: (line: string) => void;
}

const DATA_DIR = fileURLToPath(new URL('.data/bench-postgres', REPO_ROOT));

export async function startOurs(opts: OursOptions): Promise<OursTarget> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e) => opts.log(`cleanup: ${e instanceof Error ? e.message : String(e)}`));
    cleanups.length = 0;
  };
  try {
    let adminUrl = process.env.DATABASE_URL;
    let embedded: EmbeddedServer | undefined;
    if (!adminUrl) {
      const port = await freePort();
      opts.log(`starting embedded PostgreSQL in ${path.relative(process.cwd(), DATA_DIR) || DATA_DIR} on 127.0.0.1:${port}`);
      embedded = await startEmbeddedPostgres({ dataDir: DATA_DIR, port });
      cleanups.push(() => embedded!.stop());
      adminUrl = embedded.url();
      // Databases left behind by runs that were killed (the cluster is the benchmark's own).
      await dropStaleDatabases(adminUrl, opts.log);
    }
    const { version, dbPid } = await serverInfo(adminUrl);
    const database = `${embedded ? 'embedded ' : ''}PostgreSQL ${version}${embedded ? ' (same machine)' : ` at ${new URL(adminUrl).host}`}`;

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const masterKey = randomBytes(32).toString('base64');
    let clientId = 'bench';
    let clientSecret = randomBytes(32).toString('base64url');
    let databaseUrl: string;

    const freshName = `iam_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${freshName}`);
      const url = new URL(adminUrl);
      url.pathname = `/${freshName}`;
      databaseUrl = url.toString();
      cleanups.push(() => dropDatabase(adminUrl!, freshName));
    } catch (e) {
      if ((e as { code?: string }).code !== '42501') throw e;
      // No CREATEDB privilege: a throwaway tenant in DATABASE_URL's own database.
      opts.log('DATABASE_URL may not create databases: using a throwaway tenant in it instead');
      databaseUrl = adminUrl;
      const db = openDatabase(databaseUrl, { max: 2, applicationName: 'iam-bench' });
      try {
        await runMigrations(db);
        const slug = `bench-${randomBytes(4).toString('hex')}`;
        const created = await createTenant(db.global, keyring(Buffer.from(masterKey, 'base64')), {
          slug,
          displayName: 'Benchmark (temporary)',
          issuer: baseUrl,
          // Only host:port: it is more specific than any tenant's bare `127.0.0.1`, so it wins resolution.
          hosts: [`127.0.0.1:${port}`],
          bootstrapClientId: clientId,
          bootstrapClientSecret: clientSecret,
        });
        ({ clientId, clientSecret } = created);
        cleanups.push(() => deleteTenant(databaseUrl, created.tenant.id));
      } finally {
        await db.close();
      }
    } finally {
      await admin.end();
    }

    const env = serverEnv({
      DATABASE_URL: databaseUrl,
      MASTER_KEY: masterKey,
      PORT: String(port),
      LISTEN_HOST: '127.0.0.1',
      PUBLIC_URL: baseUrl,
      TENANCY_MODE: 'multi',
      BOOTSTRAP_CLIENT_ID: clientId,
      BOOTSTRAP_CLIENT_SECRET: clientSecret,
      LOG_LEVEL: 'warn',
      ...(opts.dbPoolSize ? { DB_POOL_SIZE: String(opts.dbPoolSize) } : {}),
      ...opts.settings,
    });
    // The same validation the server does, here, so a bad setting fails before anything is spawned.
    loadConfig(env);
    opts.log(`starting our server on ${baseUrl}`);
    const child = spawnNode('our server', [...(opts.execArgv ?? []), '--import', './bench/lib/count-queries.ts', 'src/server.ts'], env);
    cleanups.push(async () => {
      const code = await child.stop();
      if (code !== 0) opts.log(`our server exited with ${code}`);
    });
    await waitUntilReady(child, httpOk(`${baseUrl}/readyz`), 120_000);
    const pgPort = embedded ? Number(new URL(adminUrl).port) : undefined;
    const restartDatabase = embedded
      ? async (downMs: number) => {
          await embedded!.stop();
          await new Promise((r) => setTimeout(r, downMs));
          embedded = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: pgPort! });
        }
      : undefined;
    return { baseUrl, clientId, clientSecret, child, database, databaseUrl, dbPid, masterKey, env, restartDatabase, dbQueries: () => queryCount(child), stop: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The parent's environment without any of the service's own settings, plus `settings`. */
function serverEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  return { ...env, ...settings };
}

async function serverInfo(url: string): Promise<{ version: string; dbPid?: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ v: string; pid: number }>('SELECT current_setting($1) AS v, pg_backend_pid() AS pid', ['server_version']);
    const row = r.rows[0];
    return { version: row?.v ?? '?', dbPid: row ? postmasterOf(row.pid, url) : undefined };
  } finally {
    await c.end();
  }
}

/** The parent of our backend, when the server is local and really is PostgreSQL (not a pid in another namespace). */
function postmasterOf(backendPid: number, url: string): number | undefined {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) return undefined;
  try {
    const stat = readFileSync(`/proc/${backendPid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() === 'postgres' ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** Asks the server for its query count (SIGUSR2) and reads the answer from its stderr. */
function queryCount(child: Child): Promise<number | undefined> {
  const stderr = child.process.stderr;
  if (!stderr || child.process.exitCode !== null) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let buffered = '';
    const done = (n: number | undefined) => {
      clearTimeout(timer);
      stderr.off('data', onData);
      resolve(n);
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const m = /BENCH_QUERIES (\d+)/.exec(buffered);
      if (m) done(Number(m[1]));
    };
    const timer = setTimeout(() => done(undefined), 2_000);
    stderr.on('data', onData);
    child.process.kill('SIGUSR2');
  });
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

async function deleteTenant(url: string, tenantId: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    // Every tenant-owned table references tenants(id) ON DELETE CASCADE.
    await c.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
  } finally {
    await c.end();
  }
}

async function dropStaleDatabases(adminUrl: string, log: (line: string) => void): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'iam\\_bench\\_%'");
    for (const { datname } of r.rows) {
      log(`dropping ${datname}, left by an earlier run`);
      await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  } finally {
    await c.end();
  }
}
