/**
 * A PostgreSQL outage (issue #15): two instances on one database that is stopped for 5 s and started again. While
 * it is down, readiness is 503 and the token endpoint answers 503 with Retry-After; once it is back, both instances
 * recover by themselves and a client deleted through one is refused by the other within 1 s (the invalidation
 * listener reconnected). A cluster of this file's own: stopping the run's shared one would break the other files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { buildApp } from '../../src/app.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/platform/embedded-postgres.ts';
import { openDatabase, runMigrations, type Database } from '../../src/platform/db.ts';
import { keyring } from '../../src/platform/crypto.ts';
import { freePort } from '../support/global-setup.ts';
import { basic, bootstrapToken, newTenant, testConfig, type TestTenant } from '../support/app.ts';
import type { FastifyInstance } from 'fastify';

let dataDir: string;
let port: number;
let pgServer: EmbeddedServer;
const instances: { app: FastifyInstance; database: Database }[] = [];
let tenant: TestTenant;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'iam-outage-pg-'));
  port = await freePort();
  pgServer = await startEmbeddedPostgres({ dataDir, port });
  const url = pgServer.url();
  await runMigrations({ url });
  const config = testConfig({ DATABASE_URL: url });
  const keys = keyring(Buffer.from(config.MASTER_KEY!, 'base64'));
  for (let i = 0; i < 2; i++) {
    const database = openDatabase(url, { max: 4 });
    const app = await buildApp({ config, database, keyring: keys, logger: pino({ level: 'silent' }) });
    await app.ready();
    instances.push({ app, database });
  }
  tenant = await newTenant(instances[0]!.database, keys);
}, 120_000);

afterAll(async () => {
  for (const { app, database } of instances) {
    await app.close().catch(() => {});
    await database.close().catch(() => {});
  }
  await pgServer?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const token = (app: FastifyInstance, id: string, secret: string) =>
  app.inject({ method: 'POST', url: '/oauth2/token', headers: { host: tenant.host, authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&scope=iam/' });
const ready = async (app: FastifyInstance) => (await app.inject({ url: '/readyz' })).statusCode;

async function until(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fn();
}

describe('PostgreSQL outage', () => {
  it('503 while down; both instances recover; a deleted client is refused by the other instance within 1 s', async () => {
    const [a, b] = instances.map((i) => i.app) as [FastifyInstance, FastifyInstance];
    const admin = await bootstrapToken(a, tenant);
    const api = (method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown) =>
      a.inject({ method, url, headers: { host: tenant.host, authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
    expect((await api('PUT', '/api/downstream/MachineClient/outage', { displayName: 'Outage', allowedScopes: ['iam/'] })).statusCode).toBeLessThan(300);
    const secret = (await api('POST', '/api/downstream/MachineClient/outage/secrets', { description: 's' })).json().secret as string;
    expect((await token(b, 'outage', secret)).statusCode).toBe(200);
    expect(await ready(b)).toBe(200);

    await pgServer.stop();
    const down = Date.now();
    expect(await until(async () => (await ready(b)) === 503, 5_000)).toBe(true);
    // The cached client may still answer for up to a second; after that the database is needed and is not there.
    await new Promise((r) => setTimeout(r, 1_200));
    const during = await token(b, 'outage', secret);
    expect(during.statusCode).toBe(503);
    expect(during.headers['retry-after']).toMatch(/^\d+$/);
    expect(during.json()).toMatchObject({ error: 'temporarily_unavailable' });
    await new Promise((r) => setTimeout(r, Math.max(0, 5_000 - (Date.now() - down))));

    pgServer = await startEmbeddedPostgres({ dataDir, port });
    expect(await until(async () => (await ready(a)) === 200 && (await ready(b)) === 200, 15_000)).toBe(true);
    // B caches the client again, then A deletes it: B hears of it through the reconnected listener.
    expect((await token(b, 'outage', secret)).statusCode).toBe(200);
    expect((await api('DELETE', '/api/downstream/MachineClient/outage')).statusCode).toBe(204);
    const deleted = Date.now();
    expect(await until(async () => (await token(b, 'outage', secret)).statusCode === 401, 1_000)).toBe(true);
    expect(Date.now() - deleted).toBeLessThan(1_500);
  }, 90_000);
});
