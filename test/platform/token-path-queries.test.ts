/**
 * Row-level security must not put the database back on the token path: once a tenant's client, secrets, scope
 * catalog and keys are cached, a client_credentials request sends no query on either pool (no `set_config` either).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
let sent = 0;

/** Counts what each connection of `pool` sends from now on (connections opened later included). */
function countQueries(pool: pg.Pool) {
  const wrap = (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      sent++;
      return query(...args);
    };
  };
  pool.on('connect', wrap);
  for (const client of (pool as unknown as { _clients: pg.PoolClient[] })._clients) wrap(client);
}

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  countQueries(env.database.pool);
  countQueries((env.database.global as unknown as { $client: pg.Pool }).$client);
});
afterAll(() => env.close());

it('client_credentials: 0 queries per request once the tenant is warm', async () => {
  await bootstrapToken(env.app, t);
  sent = 0;
  for (let i = 0; i < 20; i++) await bootstrapToken(env.app, t);
  expect(sent).toBe(0);
});

it('the counter sees scoped queries (so the 0 above is measured, not missed)', async () => {
  sent = 0;
  const res = await env.app.inject({ url: '/api/users', headers: { host: t.host, authorization: `Bearer ${await bootstrapToken(env.app, t)}` } });
  expect(res.statusCode).toBe(200);
  expect(sent).toBeGreaterThan(0);
});
