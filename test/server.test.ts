/**
 * The process as a newcomer runs it: `node src/server.ts` with embedded PostgreSQL, and two instances racing on one
 * DATABASE_URL. Real processes, real signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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

function start(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['src/server.ts'], { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

  it('a bad setting stops the process with one line naming it', async () => {
    const p = start({ PORT: 'eighty' });
    expect(await p.exited).toBe(1);
    expect(p.out().trim()).toBe('Invalid configuration: PORT: Invalid input: expected number, received NaN (got "eighty")');
  });
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
