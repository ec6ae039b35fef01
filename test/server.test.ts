/**
 * The process as a newcomer runs it: `node src/server.ts` with embedded PostgreSQL, and two instances racing on one
 * DATABASE_URL. Real processes, real signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from './support/global-setup.ts';
import { migrationsFolder } from '../src/platform/db.ts';

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];
afterAll(() => procs.forEach((p) => p.child.kill('SIGKILL')));

const SERVER = path.resolve('src/server.ts');

/** `detached`: in a process group of its own, as a terminal's foreground job is (see the Ctrl-C test). */
function start(env: Record<string, string>, opts: { cwd?: string; detached?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const p = { child, out: () => out, exited };
  procs.push(p);
  return p;
}

async function waitReady(port: number, p: Proc, ms = 30_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (p.child.exitCode !== null) throw new Error(`server exited: ${p.out()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (r.status === 200) return Date.now() - t0;
    } catch {}
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`not ready in ${ms} ms: ${p.out()}`);
}

describe('embedded PostgreSQL (no DATABASE_URL)', () => {
  it('starts, prints the bootstrap client once, serves /readyz and /scalar, and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'iam-embedded-'));
    try {
      const port = await freePort();
      const env = { PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PUBLIC_URL: `http://127.0.0.1:${port}` };
      const first = start(env);
      await waitReady(port, first);
      expect((await fetch(`http://127.0.0.1:${port}/scalar/`)).status).toBe(200);
      const secret = /client_secret:\s+(\S+)/.exec(first.out())?.[1];
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The printed credentials work.
      const tok = await fetch(`http://127.0.0.1:${port}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: 'Basic ' + Buffer.from(`bootstrap:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=iam/',
      });
      expect(tok.status).toBe(200);
      first.child.kill('SIGTERM');
      expect(await first.exited, first.out().slice(-3000)).toBe(0);
      // The embedded server is stopped: its port is free again.
      await expect(fetch(`http://127.0.0.1:${env.EMBEDDED_PG_PORT}`)).rejects.toThrow();
      expect((await readdir(dataDir)).sort()).toEqual(['master.key', 'postgres', 'postgres.password']);

      const second = start(env);
      await waitReady(port, second);
      expect(second.out()).not.toContain('client_secret');
      expect(second.out()).not.toContain(secret!);
      second.child.kill('SIGINT');
      expect(await second.exited, second.out().slice(-3000)).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('Ctrl-C at a terminal (SIGINT to the whole foreground process group): exit 0, no error-level line, PostgreSQL stopped', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'iam-ctrl-c-'));
    try {
      const port = await freePort();
      const env = { PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PUBLIC_URL: `http://127.0.0.1:${port}` };
      const p = start(env, { detached: true });
      await waitReady(port, p);
      // What the terminal does: the signal goes to every process of the group, not only to the service.
      process.kill(-p.child.pid!, 'SIGINT');
      expect(await p.exited, p.out().slice(-3000)).toBe(0);
      const errors = p.out().split('\n').filter((l) => /"level":(50|60)/.test(l));
      expect(errors, errors.join('\n').slice(0, 2000)).toEqual([]);
      await expect(fetch(`http://127.0.0.1:${env.EMBEDDED_PG_PORT}`)).rejects.toThrow();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('tenant:create joins the running embedded cluster without repeating its port; the new tenant works at once', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'iam-tenant-create-'));
    try {
      const port = await freePort();
      const env = { PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PUBLIC_URL: `http://127.0.0.1:${port}` };
      const server = start(env);
      await waitReady(port, server);
      // Only the data folder: not the server's EMBEDDED_PG_PORT (the default port has no PostgreSQL).
      const cli = spawn(process.execPath, [path.resolve('src/cli/tenant-create.ts'), '--host', 'acme.localhost', '--name', 'Acme'], {
        env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', DATA_DIR: dataDir, PUBLIC_URL: env.PUBLIC_URL },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stdout.on('data', (c) => (out += c));
      cli.stderr.on('data', (c) => (out += c));
      expect(await new Promise((r) => cli.on('exit', r)), out).toBe(0);
      const secret = /client_secret:\s+(\S+)/.exec(out)![1]!;
      const clientId = /client_id:\s+(\S+)/.exec(out)![1]!;
      // node:http, not fetch: fetch does not let a caller set Host.
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/oauth2/token', headers: { host: 'acme.localhost', authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end('grant_type=client_credentials&scope=iam/');
      });
      expect(status).toBe(200);
      // The server still runs on its cluster: the tool left it alone.
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a bad setting stops the process with one line naming it', async () => {
    const p = start({ PORT: 'eighty' });
    expect(await p.exited).toBe(1);
    expect(p.out().trim()).toBe('Invalid configuration: PORT: Invalid input: expected number, received NaN (got "eighty")');
  });
});

describe('start-up faults stop the process with one line (issue #15)', () => {
  const embeddedEnv = async (dataDir: string) => {
    const port = await freePort();
    return { PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PUBLIC_URL: `http://127.0.0.1:${port}` };
  };
  const lastLine = (p: Proc) => p.out().trim().split('\n').at(-1) ?? '';

  it('reads .env from the working folder', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'iam-dotenv-'));
    try {
      await writeFile(path.join(dir, '.env'), 'PORT=eighty\n');
      const p = start({}, { cwd: dir });
      expect(await p.exited).toBe(1);
      expect(p.out()).toContain('Invalid configuration: PORT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a port in use: exit 1, one line, embedded PostgreSQL stopped', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'iam-port-'));
    const blocker = net.createServer();
    try {
      const env = await embeddedEnv(dataDir);
      await new Promise<void>((r) => blocker.listen(Number(env.PORT), '127.0.0.1', r));
      const p = start(env);
      expect(await p.exited).toBe(1);
      expect(lastLine(p)).toBe(`startup failed: port ${env.PORT} on 127.0.0.1 is already in use (PORT, LISTEN_HOST)`);
      await expect(fetch(`http://127.0.0.1:${env.EMBEDDED_PG_PORT}`)).rejects.toThrow();
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a data folder in use is refused; after kill -9 the orphaned PostgreSQL is stopped and the folder reused; a wrong MASTER_KEY is refused', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'iam-orphan-'));
    try {
      const env = await embeddedEnv(dataDir);
      const first = start(env);
      await waitReady(Number(env.PORT), first);
      // A token makes the tenant's signing key: sealed with the master key in master.key.
      const secret = /client_secret:\s+(\S+)/.exec(first.out())?.[1];
      const tok = await fetch(`http://127.0.0.1:${env.PORT}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: 'Basic ' + Buffer.from(`bootstrap:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=iam/',
      });
      expect(tok.status).toBe(200);

      const second = start({ ...env, PORT: String(await freePort()) });
      expect(await second.exited).toBe(1);
      expect(lastLine(second)).toMatch(/^startup failed: data folder .* is in use by another running server \(pid \d+\)/);

      first.child.kill('SIGKILL');
      await first.exited;
      // PostgreSQL outlived its parent.
      const probe = new pg.Client({ connectionString: `postgres://x:y@127.0.0.1:${env.EMBEDDED_PG_PORT}/postgres` });
      await expect(probe.connect()).rejects.toThrow(/password|authentication/);
      await probe.end().catch(() => {});

      const third = start(env);
      await waitReady(Number(env.PORT), third);
      expect(third.out()).toContain('left running by an earlier server');
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);

      const wrongKey = start({ ...env, MASTER_KEY: randomBytes(32).toString('base64') });
      expect(await wrongKey.exited).toBe(1);
      expect(lastLine(wrongKey)).toBe('startup failed: MASTER_KEY does not open the stored signing keys: it is not the key this database was set up with');
      await expect(fetch(`http://127.0.0.1:${env.EMBEDDED_PG_PORT}`)).rejects.toThrow();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('two instances on one DATABASE_URL', () => {
  it('both become ready; migrations and bootstrap ran once', async () => {
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    const name = `iam_race_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(inject('adminDatabaseUrl'));
    url.pathname = `/${name}`;
    try {
      const [p1, p2] = [await freePort(), await freePort()];
      const common = { DATABASE_URL: url.toString(), MASTER_KEY: inject('masterKey'), PUBLIC_URL: 'http://iam.test' };
      const a = start({ ...common, PORT: String(p1) });
      const b = start({ ...common, PORT: String(p2) });
      await Promise.all([waitReady(p1, a), waitReady(p2, b)]);
      const db = new pg.Client({ connectionString: url.toString() });
      await db.connect();
      const migrations = (await readdir(migrationsFolder)).filter((f) => f.endsWith('.sql'));
      const applied = await db.query('SELECT hash FROM drizzle.__drizzle_migrations');
      expect(applied.rowCount).toBe(migrations.length);
      expect((await db.query('SELECT count(*)::int AS n FROM tenants')).rows[0].n).toBe(1);
      await db.end();
      // Exactly one of them printed the bootstrap credentials.
      expect([a.out(), b.out()].filter((o) => o.includes('client_secret:')).length).toBe(1);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
