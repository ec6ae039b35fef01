/**
 * `GET /api/events` (issue #13 item 3): ordered, opaque cursor, `types` with `prefix.*` wildcards, `organization_id`,
 * limits; 410 Gone for a cursor before what retention deleted; organization-scoped clients see their organization's
 * events only; `events:read`; tenants apart; the catalog in the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { mintToken, testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, organizationClientToken, type Api } from '../support/api.ts';
import { drain, endOfFeed, eventsAfter, feedPage } from '../support/events.ts';
import { deleteExpiredEvents } from '../../src/events/retention.global.ts';
import { encodeCursor } from '../../src/platform/cursor.ts';

let env: TestEnv;
let api: Api;
let other: Api;
let orgA: string;
let orgB: string;
let base: string | null;

const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  orgA = (await api.call('POST', '/api/organizations', { displayName: 'A' })).json().id;
  orgB = (await api.call('POST', '/api/organizations', { displayName: 'B' })).json().id;
  const user = (await api.call('POST', '/api/users', { email: email('api') })).json();
  await api.call('PUT', `/api/organizations/${orgA}/members/${user.id}`, { roles: ['member'] });
  await api.call('PUT', `/api/organizations/${orgB}/members/${user.id}`, { roles: ['member'] });
  await api.call('PATCH', `/api/organizations/${orgB}`, { displayName: 'B2' });
  // organization.created ×2, user.created, membership.created ×2, organization.updated
  await eventsAfter(api, null, 6);
  base = null;
});
afterAll(() => env.close());

describe('filters', () => {
  it('types: exact names, prefix wildcards and *', async () => {
    const all = (await drain(api, base)).items;
    expect(all.map((e) => e.type)).toEqual(['organization.created', 'organization.created', 'user.created', 'membership.created', 'membership.created', 'organization.updated']);
    const byTypes = async (types: string) => (await drain(api, base, { types })).items.map((e) => e.type);
    expect(await byTypes('user.created')).toEqual(['user.created']);
    expect(await byTypes('organization.*')).toEqual(['organization.created', 'organization.created', 'organization.updated']);
    expect(await byTypes('membership.*,user.created')).toEqual(['user.created', 'membership.created', 'membership.created']);
    expect(await byTypes('*')).toHaveLength(6);
    expect(await byTypes('nothing.here')).toEqual([]);
    // A wildcard is a prefix of whole segments: `organization.*` never matches `organizationx.…`, nor `_` as a LIKE joker.
    expect(await byTypes('user_created.*')).toEqual([]);
  });

  it('organization_id: only that organization\'s events', async () => {
    const b = (await drain(api, base, { organization_id: orgB })).items;
    expect(b.map((e) => e.type)).toEqual(['organization.created', 'membership.created', 'organization.updated']);
    for (const e of b) expect(e.organizationId).toBe(orgB);
  });

  it('limit pages through in order; nextCursor continues, and stays put when nothing follows', async () => {
    const all = (await drain(api, base)).items;
    const first = await feedPage(api, { limit: '4' });
    expect(first.items).toEqual(all.slice(0, 4));
    expect(first.hasMore).toBe(true);
    expect(first.nextCursor).toBe(all[3]!.position);
    const second = await feedPage(api, { limit: '4', after: first.nextCursor! });
    expect(second.items).toEqual(all.slice(4, 6));
    // Any event's position is a cursor.
    expect((await feedPage(api, { after: all[1]!.position })).items).toEqual(all.slice(2));
    const end = await endOfFeed(api);
    const empty = await feedPage(api, { after: end! });
    expect(empty).toEqual({ items: [], nextCursor: end, hasMore: false });
    // An empty feed from the start: no cursor yet.
    const fresh = await apiFor(env, await env.newTenant());
    expect(await feedPage(fresh)).toEqual({ items: [], nextCursor: null, hasMore: false });
  });
});

describe('hostile input is a 400 problem', () => {
  it.each([
    ['after=not-a-cursor', 'malformed cursor'],
    [`after=${encodeCursor({ x: '1; DROP TABLE events', s: 1 })}`, 'cursor with SQL in it'],
    [`after=${encodeCursor({ x: '123', s: -1 })}`, 'negative sequence'],
    [`after=${encodeCursor({ x: '9'.repeat(21), s: 1 })}`, 'xid beyond 64 bits'],
    [`after=${'a'.repeat(300)}`, 'oversized cursor'],
    ['types=User.Created', 'upper case type'],
    ['types=user.%25', 'LIKE joker'],
    ['types=*.created', 'wildcard not at the end'],
    [`types=${Array.from({ length: 51 }, (_, i) => `t.a${i}`).join(',')}`, 'too many types'],
    ['types=', 'empty types'],
    ['organization_id=nope', 'organization_id not a uuid'],
    ['limit=0', 'limit 0'],
    ['limit=501', 'limit too big'],
    ['colour=red', 'unknown parameter'],
  ])('%s (%s)', async (qs) => {
    const res = await api.call('GET', `/api/events?${qs}`);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });
});

describe('retention', () => {
  it('deletes events older than the retention period; a cursor before them is 410 Gone, one after them reads on', async () => {
    const t = await apiFor(env, await env.newTenant());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.call('POST', '/api/organizations', { displayName: `R${i}` })).json().id);
    const events = await eventsAfter(t, null, 3);
    expect(events).toHaveLength(3);
    // The first two happened 40 days ago (rewritten as the tables' owner, around the service's roles).
    const owner = new pg.Client({ connectionString: inject('databaseUrl') });
    await owner.connect();
    try {
      await owner.query(`SELECT set_config('app.tenant_id', $1, false)`, [t.tenant.tenant.id]);
      await owner.query(`UPDATE events SET occurred_at = now() - interval '40 days' WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [t.tenant.tenant.id, [events[0]!.id, events[1]!.id]]);
    } finally {
      await owner.end();
    }
    expect(await deleteExpiredEvents(env.database.global, 30)).toBeGreaterThanOrEqual(2);

    const left = await drain(t, null);
    expect(left.items.map((e) => e.id)).toEqual([events[2]!.id]);
    // Before the deleted ones, or between them: the reader would miss events, so it is told.
    for (const cursor of [events[0]!.position]) {
      const gone = await t.call('GET', `/api/events?after=${cursor}`);
      expect(gone.statusCode, gone.body).toBe(410);
      expect(gone.headers['content-type']).toContain('application/problem+json');
      expect(gone.json()).toMatchObject({ status: 410, type: expect.stringContaining('gone') });
    }
    // The last deleted event's position: everything after it is still there.
    expect((await feedPage(t, { after: events[1]!.position })).items.map((e) => e.id)).toEqual([events[2]!.id]);
    // Nothing else was old enough: another tenant's recent events are untouched.
    expect((await drain(api, null)).items.length).toBeGreaterThanOrEqual(6);
  });
});

describe('who reads what', () => {
  it('an organization-scoped client reads its own organization\'s events only; another organization is 404', async () => {
    const auth = { authorization: `Bearer ${await organizationClientToken(env, api, `org-reader-${uid()}`, orgA)}` };
    const own = await api.call('GET', '/api/events?limit=500', undefined, auth);
    expect(own.statusCode, own.body).toBe(200);
    const items = own.json().items as { organizationId: string; type: string }[];
    expect(items.length).toBeGreaterThanOrEqual(3); // organization.created, membership.created, client.created
    for (const e of items) expect(e.organizationId).toBe(orgA);
    expect((await api.call('GET', `/api/events?organization_id=${orgA}`, undefined, auth)).statusCode).toBe(200);
    expect((await api.call('GET', `/api/events?organization_id=${orgB}`, undefined, auth)).statusCode).toBe(404);
    expect((await api.call('GET', '/api/events/types', undefined, auth)).statusCode).toBe(200);
  });

  it('a user token needs events:read', async () => {
    const tokenWith = async (permissions: string[]) => {
      const role = `r-${uid()}`;
      expect((await api.call('POST', '/api/roles', { name: role, permissions })).statusCode).toBe(201);
      const user = (await api.call('POST', '/api/users', { email: email('perm') })).json();
      await api.call('POST', `/api/users/${user.id}/roles`, { roles: [role] });
      const { token } = await mintToken(env, api.tenant.tenant, { sub: user.id, clientId: api.tenant.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300 });
      return { authorization: `Bearer ${token}` };
    };
    const without = await tokenWith(['users:read']);
    expect((await api.call('GET', '/api/events', undefined, without)).statusCode).toBe(403);
    expect((await api.call('GET', '/api/events/types', undefined, without)).statusCode).toBe(403);
    const reader = await tokenWith(['events:read']);
    expect((await api.call('GET', '/api/events', undefined, reader)).statusCode).toBe(200);
    expect((await api.call('GET', '/api/events')).statusCode).toBe(200);
    expect((await env.app.inject({ method: 'GET', url: '/api/events', headers: { host: api.tenant.host } })).statusCode).toBe(401);
  });

  it('tenants are apart: another tenant sees none of these events, even with this tenant\'s cursor', async () => {
    const mine = (await drain(api, null)).items;
    const theirs = (await drain(other, null)).items;
    const mineIds = new Set(mine.map((e) => e.id));
    for (const e of theirs) expect(mineIds.has(e.id)).toBe(false);
    const res = await other.call('GET', `/api/events?after=${mine[0]!.position}`);
    expect(res.statusCode).toBe(200);
    for (const e of res.json().items) expect(mineIds.has(e.id)).toBe(false);
    expect((await other.call('GET', `/api/events?organization_id=${orgA}`)).json().items).toEqual([]);
  });
});

describe('the catalog', () => {
  it('GET /api/events/types lists every type with the JSON Schema of its data; the OpenAPI document has them as webhooks', async () => {
    const res = await api.call('GET', '/api/events/types');
    expect(res.statusCode).toBe(200);
    const items = res.json().items as { type: string; schema: Record<string, any> }[];
    const names = items.map((i) => i.type);
    for (const t of ['user.created', 'user.updated', 'user.deleted', 'session.revoked', 'organization.created', 'membership.created', 'domain.verified', 'connection.activated', 'client.secret_created', 'key.rotated']) expect(names).toContain(t);
    expect(items.find((i) => i.type === 'user.created')!.schema.properties).toHaveProperty('userName');
    const doc = (await env.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: api.tenant.host } })).json();
    expect(doc.paths['/api/events'].get.operationId).toBe('events.list');
    expect(Object.keys(doc.webhooks).toSorted()).toEqual(names.toSorted());
    const body = doc.webhooks['domain.verified'].post.requestBody.content['application/json'].schema;
    expect(body.properties.type).toEqual({ const: 'domain.verified' });
    expect(body.properties.data.properties).toHaveProperty('verificationMethod');
  });
});
