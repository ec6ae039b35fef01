/**
 * RFC 6819 §4.3.2 / §5.1.4.2.3: online guessing of client secrets is slowed, and never locks the owner out
 * (src/platform/rate-limit.ts). The limiter's clock is injected, so windows do not depend on the wall clock.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents } from '../../src/db/schema/index.ts';

const OTHER_SECRET = 'o'.repeat(40);
let env: TestEnv;
let t: TestTenant;
let clock = Date.UTC(2030, 0, 1, 12, 0, 0);
beforeAll(async () => {
  env = await testEnv({ AUTH_FAILURE_LIMIT: '3' }, { now: () => clock });
});
afterAll(() => env.close());

// A fresh tenant per test: counters of one test never reach another.
beforeEach(async () => {
  t = await env.newTenant();
  const api = await apiFor(env, t);
  expect((await api.call('PUT', '/api/downstream/MachineClient/other', { displayName: 'Other', allowedScopes: ['iam/'], clientSecret: OTHER_SECRET })).statusCode).toBe(201);
});

const attempt = (secret: string, ip: string, clientId = t.clientId) =>
  env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    remoteAddress: ip,
    headers: { host: t.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
const status = async (secret: string, ip: string, clientId?: string) => (await attempt(secret, ip, clientId)).statusCode;

it('wrong secrets from one address block that address for that client only; the right secret from elsewhere works', async () => {
  for (let i = 0; i < 3; i++) expect(await status('wrong-' + i, '10.1.1.1')).toBe(401);
  const blocked = await attempt(t.clientSecret, '10.1.1.1');
  expect(blocked.statusCode).toBe(429);
  expect(blocked.headers['retry-after']).toBe('60');
  expect(blocked.json().error).toBe('temporarily_unavailable');
  // The owner, from anywhere else, gets in.
  expect(await status(t.clientSecret, '10.2.2.2')).toBe(200);
  // Another client behind the same address (NAT) presenting its right secret is not blocked by the address counter…
  expect(await status(OTHER_SECRET, '10.1.1.1', 'other')).toBe(200);
  // …but while the address is over its limit, each further credential gets one guess from there.
  expect(await status('guess', '10.1.1.1', 'other')).toBe(401);
  expect(await status(OTHER_SECRET, '10.1.1.1', 'other')).toBe(429);
  expect(await status('x', '10.1.1.1', 'unknown-client')).toBe(401);
  expect(await status('x', '10.1.1.1', 'unknown-client')).toBe(429);
});

it('guessing from many addresses: each gets one guess once the client is over its limit; a fresh address gets in', async () => {
  for (const ip of ['10.3.0.1', '10.3.0.2', '10.3.0.3']) expect(await status('wrong', ip)).toBe(401);
  expect(await status(t.clientSecret, '10.3.0.1')).toBe(429);
  expect(await status('wrong', '10.3.0.4')).toBe(401);
  expect(await status('wrong', '10.3.0.4')).toBe(429);
  expect(await status(t.clientSecret, '10.3.0.5')).toBe(200);
});

it('a window opens at the first failure and lasts a minute, across wall-clock minute boundaries', async () => {
  clock = Date.UTC(2030, 0, 1, 12, 0, 59, 500);
  expect(await status('wrong-1', '10.4.4.4')).toBe(401);
  expect(await status('wrong-2', '10.4.4.4')).toBe(401);
  clock += 1_000; // 12:01:00.500: a fixed per-minute window would have started over here
  expect(await status('wrong-3', '10.4.4.4')).toBe(401);
  const blocked = await attempt(t.clientSecret, '10.4.4.4');
  expect(blocked.statusCode).toBe(429);
  expect(blocked.headers['retry-after']).toBe('59');
  clock += 59_000; // the window (opened at 12:00:59.500) has ended
  expect(await status(t.clientSecret, '10.4.4.4')).toBe(200);
  expect(await status('wrong-4', '10.4.4.4')).toBe(401);
  expect(await status(t.clientSecret, '10.4.4.4')).toBe(200);
});

it('each counter reaching its limit is audited once, with the limited credential or address as actor', async () => {
  for (let i = 0; i < 4; i++) await attempt('wrong', '10.5.5.5');
  const rows = await forTenant(env.database.db, t.tenant.id).select(auditEvents, eq(auditEvents.action, 'ratelimit.trip'));
  const seen = rows.map((r) => [r.actorType, r.actorId, r.sourceIp, r.targetType, r.targetId, (r.after as { counter: string }).counter]).sort();
  expect(seen).toEqual(
    [
      ['client', t.clientId, '10.5.5.5', 'client', t.clientId, 'credential'],
      ['client', t.clientId, '10.5.5.5', 'client', t.clientId, 'credential-address'],
      ['system', '10.5.5.5', '10.5.5.5', 'address', '10.5.5.5', 'address'],
    ].sort(),
  );
  expect(rows[0]!.after).toMatchObject({ kind: 'client', failures: 3, outcome: 'limited' });
  // Blocked attempts add no entries.
  await attempt('wrong', '10.5.5.5');
  expect(await forTenant(env.database.db, t.tenant.id).count(auditEvents, eq(auditEvents.action, 'ratelimit.trip'))).toBe(3);
});

it('a client id no client can have (NUL, which PostgreSQL text cannot hold) is invalid_request at the edge, never a 500', async () => {
  const res = await attempt('secret', '10.6.6.6', 'a\u0000b');
  expect(res.statusCode).toBe(400);
  expect(res.json().error).toBe('invalid_request');
});
