/** `GET /api/audit`: who changed what, newest first, filtered and paged, per tenant. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, bootstrapToken, testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { createClientWithSecret } from '../../src/downstream/service.ts';
import { apiFor, email, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;
let robotToken: string;
let userIds: string[];

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  // A second machine client of tenant A, to tell actors apart.
  const robot = await createClientWithSecret(forTenant(env.database.db, api.tenant.tenant.id), env.keys, {
    clientId: 'robot',
    clientType: 'MachineClient',
    displayName: 'Robot',
    allowedScopes: ['iam/'],
  });
  robotToken = await bootstrapToken(env.app, { ...api.tenant, clientId: robot.clientId, clientSecret: robot.clientSecret! });
  userIds = [];
  for (let i = 0; i < 5; i++) userIds.push((await api.call('POST', '/api/users', { email: email(`audit${i}`) })).json().id);
  await env.app.inject({
    method: 'PATCH',
    url: `/api/users/${userIds[0]}`,
    headers: { host: api.tenant.host, authorization: `Bearer ${robotToken}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ fullName: 'Changed by robot' }),
  });
});
afterAll(() => env.close());

const list = async (a: Api, query = '') => {
  const res = await a.call('GET', `/api/audit${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { items: { id: string; at: string; action: string; actor: { type: string; id: string }; target: { type: string; id: string } }[]; nextCursor: string | null };
};

describe('GET /api/audit', () => {
  it('newest first, with actor, source address, target and time', async () => {
    const { items } = await list(api);
    expect(items.map((e) => e.action)).toEqual(['user.update', ...userIds.map(() => 'user.create')]);
    expect(items[0]).toMatchObject({ actor: { type: 'client', id: 'robot' }, target: { type: 'user', id: userIds[0] }, sourceIp: expect.any(String) });
    expect(items.slice(1).map((e) => e.target.id)).toEqual(userIds.toReversed());
    const ids = items.map((e) => Number(e.id));
    expect(ids).toEqual(ids.toSorted((a, b) => b - a));
    expect(Date.parse(items[0]!.at)).toBeGreaterThanOrEqual(Date.parse(items.at(-1)!.at));
  });

  it('filters by actor, actor type, action, target and time range; filters combine', async () => {
    expect((await list(api, '?actor=robot')).items.map((e) => e.action)).toEqual(['user.update']);
    expect((await list(api, '?actor=bootstrap')).items).toHaveLength(5);
    expect((await list(api, '?actorType=user')).items).toEqual([]);
    expect((await list(api, '?action=user.create')).items).toHaveLength(5);
    expect((await list(api, `?targetType=user&targetId=${userIds[0]}`)).items.map((e) => e.action)).toEqual(['user.update', 'user.create']);
    expect((await list(api, `?targetId=${userIds[0]}&actor=bootstrap`)).items.map((e) => e.action)).toEqual(['user.create']);
    const all = (await list(api)).items;
    const newest = all[0]!.at;
    expect((await list(api, `?from=${encodeURIComponent(newest)}`)).items.every((e) => e.at >= newest)).toBe(true);
    expect((await list(api, `?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`)).items).toEqual([]);
    expect((await list(api, `?from=${encodeURIComponent('2000-01-01T00:00:00+02:00')}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).items).toHaveLength(all.length);
  });

  it('pages newest first with a cursor; events added meanwhile do not shift later pages', async () => {
    const all = (await list(api)).items.map((e) => e.id);
    const first = await list(api, '?limit=2');
    expect(first.items.map((e) => e.id)).toEqual(all.slice(0, 2));
    await api.call('POST', '/api/users', { email: email('meanwhile') });
    const seen = [...first.items.map((e) => e.id)];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await list(api, `?limit=2&cursor=${cursor}`);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all);
  });

  it('bad parameters → 400: cursor, time range, limit, unknown names', async () => {
    for (const q of ['?cursor=xyz', '?from=yesterday', '?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z', '?limit=0', '?actorType=robot', '?user=x']) {
      const res = await api.call('GET', `/api/audit${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('is read-only: no other method exists', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) expect((await api.call(method, '/api/audit', {})).statusCode).toBe(404);
  });

  it('a user token (an administrator signed in) is recorded as the user', async () => {
    const admin = (await api.call('POST', '/api/users', { email: email('admin') })).json();
    await api.call('POST', `/api/users/${admin.id}/roles`, { roles: ['admin'] });
    const { token } = await mintToken(env, api.tenant.tenant, { sub: admin.id, clientId: 'bootstrap', scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 60 });
    const res = await env.app.inject({
      method: 'POST',
      url: '/api/roles',
      headers: { host: api.tenant.host, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'made-by-user', permissions: [] }),
    });
    expect(res.statusCode, res.body).toBe(201);
    expect((await list(api, '?targetId=made-by-user')).items[0]).toMatchObject({ action: 'role.create', actor: { type: 'user', id: admin.id } });
  });
});

describe("tenant isolation: tenant B's audit", () => {
  it("shows none of A's events, whatever the filter or cursor", async () => {
    await other.call('POST', '/api/users', { email: email('b') });
    const b = await list(other, '?limit=200');
    expect(b.items.map((e) => e.action)).toEqual(['user.create']);
    expect(b.items.every((e) => e.actor.id === 'bootstrap' && !userIds.includes(e.target.id))).toBe(true);
    expect((await list(other, `?targetId=${userIds[0]}`)).items).toEqual([]);
    expect((await list(other, '?actor=robot')).items).toEqual([]);
    const aPage = await list(api, '?limit=1');
    expect((await list(other, `?cursor=${aPage.nextCursor}`)).items.every((e) => !userIds.includes(e.target.id))).toBe(true);
  });
});
