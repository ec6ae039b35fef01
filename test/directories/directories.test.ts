/**
 * Directories (issue #12): CRUD, tokens, the partition that keeps a directory's records apart from the tenant's users
 * and from other directories, and the Directory API. Through HTTP as an administrator and as each directory's IdP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { directoryScimClient, patch, user, GROUP } from '../scim/support.ts';
import { forDirectory, forTenant } from '../../src/platform/db.ts';

let env: TestEnv;
let admin: Api;
let org: string;

beforeAll(async () => {
  env = await testEnv({ AUTH_FAILURE_LIMIT: '5' });
  admin = await apiFor(env, await env.newTenant());
  org = (await admin.call('POST', '/api/organizations', { displayName: 'Megacorp' })).json().id;
});
afterAll(() => env.close());

const scim = (host: string, token: string, method: string, url: string, body?: unknown) =>
  env.app.inject({
    method: method as 'GET',
    url,
    headers: { host, authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });

async function directory(body: Record<string, unknown> = {}, organizationId = org) {
  const res = await admin.call('POST', `/api/organizations/${organizationId}/directories`, { displayName: 'Entra ID', provider: 'entra', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; scimBaseUrl: string; primary: boolean; userCount: number };
}

async function token(directoryId: string, body: unknown = {}) {
  const res = await admin.call('POST', `/api/directories/${directoryId}/tokens`, body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; token: string; hint: string };
}

describe('directories: create, read, update, delete', () => {
  it('the first directory of an organization is primary; its SCIM base URL carries its id', async () => {
    const o = (await admin.call('POST', '/api/organizations', { displayName: 'First' })).json().id;
    const a = await directory({}, o);
    expect(a).toMatchObject({ primary: true, userCount: 0, groupCount: 0, provider: 'entra', enabled: true, provisionMembers: false });
    expect(a.scimBaseUrl).toBe(`${admin.tenant.tenant.issuer}/directories/${a.id}/scim/v2`);
    const b = await directory({ displayName: 'Okta', provider: 'okta' }, o);
    expect(b.primary).toBe(false);
    expect((await admin.call('GET', `/api/organizations/${o}/directories/primary`)).json().id).toBe(a.id);
    // Moving the mark: b becomes primary, a loses it, in one change.
    expect((await admin.call('PATCH', `/api/directories/${b.id}`, { primary: true })).json().primary).toBe(true);
    const list = (await admin.call('GET', `/api/organizations/${o}/directories`)).json().items;
    expect(list.map((d: { id: string; primary: boolean }) => [d.id, d.primary])).toEqual([
      [a.id, false],
      [b.id, true],
    ]);
  });

  it('refuses bad input with a problem, never a 500', async () => {
    for (const body of [{ displayName: '' }, { displayName: 'x', provider: 'ldap' }, { displayName: 'x', extra: 1 }, { displayName: 'x\u0000' }]) {
      const res = await admin.call('POST', `/api/organizations/${org}/directories`, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect((await admin.call('POST', `/api/organizations/00000000-0000-4000-8000-000000000000/directories`, { displayName: 'x' })).statusCode).toBe(404);
    expect((await admin.call('GET', '/api/directories/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await admin.call('GET', '/api/directories/not-a-uuid')).statusCode).toBe(400);
    expect((await admin.call('PATCH', `/api/directories/${(await directory()).id}`, {})).statusCode).toBe(400);
  });

  it('every change is audited', async () => {
    const d = await directory();
    await admin.call('PATCH', `/api/directories/${d.id}`, { displayName: 'Renamed' });
    const t = await token(d.id);
    await admin.call('DELETE', `/api/directories/${d.id}/tokens/${t.id}`);
    await admin.call('DELETE', `/api/directories/${d.id}`);
    const audit = (await admin.call('GET', `/api/audit?targetId=${d.id}&limit=50`)).json().items.map((e: { action: string }) => e.action);
    expect(audit.toSorted()).toEqual(['directory.create', 'directory.delete', 'directory.token.create', 'directory.token.revoke', 'directory.update']);
    // The token itself is in no audit entry.
    expect((await admin.call('GET', `/api/audit?targetId=${d.id}&limit=50`)).body).not.toContain(t.token);
  });

  it('deleting a directory deletes its users, groups and tokens in one transaction', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const u = (await c.call('POST', '/Users', user('gone@megacorp.example'))).json().id;
    const g = await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Gone', members: [{ value: u }] });
    expect(g.statusCode).toBe(201);
    expect((await admin.call('GET', `/api/directories/${c.directoryId}`)).json()).toMatchObject({ userCount: 1, groupCount: 1 });
    expect((await admin.call('DELETE', `/api/directories/${c.directoryId}`)).statusCode).toBe(204);
    // Counted through the bypass handle: nothing of it is left in any partition.
    const left = await env.database.global.execute(sql`SELECT (SELECT count(*)::int FROM users WHERE directory_id = ${c.directoryId}) AS u, (SELECT count(*)::int FROM groups WHERE directory_id = ${c.directoryId}) AS g, (SELECT count(*)::int FROM directory_tokens WHERE directory_id = ${c.directoryId}) AS t`);
    expect(left.rows).toEqual([{ u: 0, g: 0, t: 0 }]);
    expect((await c.call('GET', '/Users')).statusCode).toBe(401);
  });
});

describe('directory tokens', () => {
  it('are iamdir_ + 256 bits, shown once, listed without their value, at most two active', async () => {
    const d = await directory();
    const a = await token(d.id);
    expect(a.token).toMatch(/^iamdir_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token.slice(7), 'base64url')).toHaveLength(32);
    expect(a.hint).toBe(a.token.slice(-4));
    const b = await token(d.id, { expiresInDays: 30 });
    expect(b.token).not.toBe(a.token);
    const third = await admin.call('POST', `/api/directories/${d.id}/tokens`, {});
    expect(third.statusCode).toBe(409);
    const list = await admin.call('GET', `/api/directories/${d.id}/tokens`);
    expect(list.body).not.toContain(a.token);
    expect(list.json().items).toHaveLength(2);
    // Rotation: revoke one, the other keeps working, a new one can be made.
    expect((await admin.call('DELETE', `/api/directories/${d.id}/tokens/${a.id}`)).statusCode).toBe(204);
    const host = admin.tenant.host;
    expect((await scim(host, a.token, 'GET', `/directories/${d.id}/scim/v2/Users`)).statusCode).toBe(401);
    expect((await scim(host, b.token, 'GET', `/directories/${d.id}/scim/v2/Users`)).statusCode).toBe(200);
    await token(d.id);
    const after = (await admin.call('GET', `/api/directories/${d.id}/tokens`)).json().items;
    expect(after.find((t: { id: string }) => t.id === b.id).lastUsedAt).not.toBeNull();
    expect(after.find((t: { id: string }) => t.id === a.id).revokedAt).not.toBeNull();
  });

  it('work only at their own directory, and nowhere else', async () => {
    const host = admin.tenant.host;
    const d1 = await directory();
    const d2 = await directory();
    const t1 = await token(d1.id);
    expect((await scim(host, t1.token, 'GET', `/directories/${d2.id}/scim/v2/Users`)).statusCode).toBe(401);
    expect((await scim(host, t1.token, 'GET', '/scim/v2/Users')).statusCode).toBe(401);
    expect((await env.app.inject({ method: 'GET', url: '/api/users', headers: { host, authorization: `Bearer ${t1.token}` } })).statusCode).toBe(401);
    // An OAuth access token (even the administrator's) is not a directory token.
    expect((await scim(host, admin.token, 'GET', `/directories/${d1.id}/scim/v2/Users`)).statusCode).toBe(401);
    // Another tenant's host: the directory is not there, for its administrator either.
    const other = await apiFor(env, await env.newTenant());
    for (const url of [`/api/directories/${d1.id}`, `/api/directories/${d1.id}/users`, `/api/directories/${d1.id}/tokens`]) expect((await other.call('GET', url)).statusCode, url).toBe(404);
    expect((await other.call('POST', `/api/directories/${d1.id}/tokens`, {})).statusCode).toBe(404);
    expect((await other.call('DELETE', `/api/directories/${d1.id}`)).statusCode).toBe(404);
    expect((await scim(other.tenant.host, t1.token, 'GET', `/directories/${d1.id}/scim/v2/Users`)).statusCode).toBe(401);
    // Malformed directory ids and tokens: SCIM errors, never a 500.
    expect((await scim(host, t1.token, 'GET', '/directories/NOT-A-UUID/scim/v2/Users')).statusCode).toBe(404);
    let n = 10;
    for (const bad of ['iamdir_short', 'iamdir_' + 'A'.repeat(43), 'x'.repeat(5000), 'iamdir_' + 'é'.repeat(43)]) {
      // Each from its own address: the abuse limit (5 failures per credential and address here) is tested below.
      const res = await env.app.inject({ method: 'GET', url: `/directories/${d1.id}/scim/v2/Users`, remoteAddress: `192.0.2.${n++}`, headers: { host, authorization: `Bearer ${bad}` } });
      expect([400, 401], bad.slice(0, 20)).toContain(res.statusCode);
    }
  });

  it('a disabled directory answers 403; an expired token 401', async () => {
    const host = admin.tenant.host;
    const d = await directory();
    const t = await token(d.id, { expiresInDays: 1 });
    await admin.call('PATCH', `/api/directories/${d.id}`, { enabled: false });
    expect((await scim(host, t.token, 'GET', `/directories/${d.id}/scim/v2/Users`)).statusCode).toBe(403);
    await admin.call('PATCH', `/api/directories/${d.id}`, { enabled: true });
    expect((await scim(host, t.token, 'GET', `/directories/${d.id}/scim/v2/Users`)).statusCode).toBe(200);
    await env.database.global.execute(sql`UPDATE directory_tokens SET expires_at = now() - interval '1 second' WHERE id = ${t.id}`);
    const res = await scim(host, t.token, 'GET', `/directories/${d.id}/scim/v2/Users`);
    expect(res.statusCode).toBe(401);
    expect(res.json().detail).toMatch(/expired/);
  });

  it('guessing is slowed by the abuse limits, and the right token from another address still works', async () => {
    const host = admin.tenant.host;
    const d = await directory();
    const t = await token(d.id);
    const guess = (ip: string) => env.app.inject({ method: 'GET', url: `/directories/${d.id}/scim/v2/Users`, remoteAddress: ip, headers: { host, authorization: `Bearer iamdir_${'B'.repeat(43)}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await guess('203.0.113.9')).statusCode);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    const owner = await env.app.inject({ method: 'GET', url: `/directories/${d.id}/scim/v2/Users`, remoteAddress: '198.51.100.7', headers: { host, authorization: `Bearer ${t.token}` } });
    expect(owner.statusCode).toBe(200);
  });
});

describe('the partition: a directory sees only its own records', () => {
  it('the same userName lives in the tenant and in two directories, each apart', async () => {
    const a = await directoryScimClient(env, admin.tenant);
    const b = await directoryScimClient(env, admin.tenant);
    const name = 'john@acme.example';
    const tenantUser = await admin.call('POST', '/api/users', { email: name });
    expect(tenantUser.statusCode, tenantUser.body).toBe(201);
    const ua = await a.call('POST', '/Users', user(name, { externalId: 'same-ext' }));
    const ub = await b.call('POST', '/Users', user(name, { externalId: 'same-ext' }));
    expect([ua.statusCode, ub.statusCode]).toEqual([201, 201]);
    expect((await a.call('POST', '/Users', user(name.toUpperCase()))).statusCode).toBe(409);
    // Reads: by id across directories is 404; filters, lists and root searches stay inside.
    expect((await a.call('GET', `/Users/${ub.json().id}`)).statusCode).toBe(404);
    expect((await a.call('GET', `/Users/${tenantUser.json().id}`)).statusCode).toBe(404);
    expect((await a.call('GET', `/Users?filter=userName eq "${name}"`.replace(/ /g, '%20'))).json().totalResults).toBe(1);
    expect((await a.call('GET', '/Users')).json().Resources.map((r: { id: string }) => r.id)).toEqual([ua.json().id]);
    expect((await a.call('POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] })).json().totalResults).toBe(1);
    // Writes: another partition's ids are unknown; a group cannot take another directory's user as member.
    expect((await a.call('PATCH', `/Users/${ub.json().id}`, patch({ op: 'replace', path: 'active', value: false }))).statusCode).toBe(404);
    expect((await a.call('DELETE', `/Users/${tenantUser.json().id}`)).statusCode).toBe(404);
    const g = await a.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Mixed', members: [{ value: ub.json().id }] });
    expect(g.statusCode).toBe(400);
    // The tenant's own surfaces see none of the directories' records.
    const tenantList = (await admin.call('GET', `/api/users?limit=200`)).json().items.map((u: { id: string }) => u.id);
    expect(tenantList).toContain(tenantUser.json().id);
    expect(tenantList).not.toContain(ua.json().id);
    expect((await admin.call('GET', `/api/users/${ua.json().id}`)).statusCode).toBe(404);
    expect((await b.call('GET', `/Users/${ub.json().id}`)).json().meta.location).toBe(`${admin.tenant.tenant.issuer}${b.base}/Users/${ub.json().id}`);
  });

  it('discovery and Bulk are served at the directory base URL, scoped to it', async () => {
    const a = await directoryScimClient(env, admin.tenant);
    const spc = await env.app.inject({ method: 'GET', url: `${a.base}/ServiceProviderConfig`, headers: { host: admin.tenant.host } });
    expect(spc.statusCode).toBe(200);
    expect(spc.json().meta.location).toBe(`${admin.tenant.tenant.issuer}${a.base}/ServiceProviderConfig`);
    const bulk = await a.call('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'u1', data: user('bulk1@acme.example') },
        { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP], displayName: 'Bulk', members: [{ value: 'bulkId:u1' }] } },
      ],
    });
    expect(bulk.statusCode, bulk.body).toBe(200);
    expect(bulk.json().Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201']);
    expect(bulk.json().Operations[0].location).toContain(`${a.base}/Users/`);
    expect((await admin.call('GET', `/api/directories/${a.directoryId}`)).json()).toMatchObject({ userCount: 1, groupCount: 1 });
  });

  it('row-level security keeps the partition even for raw SQL', async () => {
    const a = await directoryScimClient(env, admin.tenant);
    const b = await directoryScimClient(env, admin.tenant);
    await a.call('POST', '/Users', user('raw-a@acme.example'));
    await b.call('POST', '/Users', user('raw-b@acme.example'));
    const tenantId = admin.tenant.tenant.id;
    const inA = await forDirectory(env.database.db, tenantId, a.directoryId).execute(sql`SELECT user_name FROM users`);
    expect(inA.rows).toEqual([{ user_name: 'raw-a@acme.example' }]);
    const tenantRows = await forTenant(env.database.db, tenantId).execute(sql`SELECT count(*)::int AS n FROM users WHERE directory_id IS NOT NULL`);
    expect(tenantRows.rows).toEqual([{ n: 0 }]);
    // Planting a row into another partition is refused by the policy's WITH CHECK.
    await expect(forDirectory(env.database.db, tenantId, a.directoryId).execute(sql`UPDATE users SET directory_id = ${b.directoryId}`)).rejects.toMatchObject({ cause: { code: '42501' } });
    await expect(
      forDirectory(env.database.db, tenantId, a.directoryId).execute(sql`INSERT INTO users (tenant_id, user_name, user_name_key) VALUES (${tenantId}, 'planted', 'planted')`),
    ).rejects.toMatchObject({ cause: { code: '42501' } });
  });

  it('a directory user never signs in by password, and passwords sent by the IdP are not kept', async () => {
    const a = await directoryScimClient(env, admin.tenant);
    const created = await a.call('POST', '/Users', user('pw@acme.example', { password: 'correct horse battery staple' }));
    expect(created.statusCode).toBe(201);
    const [row] = (await forDirectory(env.database.db, admin.tenant.tenant.id, a.directoryId).execute(sql`SELECT password_hash FROM users`)).rows as { password_hash: string | null }[];
    expect(row!.password_hash).toBeNull();
  });
});

describe('the Directory API', () => {
  it('lists users in keyset pages with groups, detail and group filter; groups with member counts', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await c.call('POST', '/Users', user(`u${i}@acme.example`, { name: { givenName: `G${i}`, familyName: 'F' }, emails: [{ value: `u${i}@acme.example`, type: 'work', primary: true }], roles: [{ value: 'engineer' }], 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'R&D' } }));
      ids.push(res.json().id);
    }
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Engineers', members: [{ value: ids[1] }, { value: ids[3] }] })).json().id;
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const res = await admin.call('GET', `/api/directories/${c.directoryId}/users?page_size=2${next ? `&page_token=${next}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...res.json().users.map((u: { id: string }) => u.id));
      next = res.json().next_page_token;
      pages++;
    } while (next);
    expect(pages).toBe(3);
    expect(seen.toSorted()).toEqual(ids.toSorted());
    const one = (await admin.call('GET', `/api/directories/${c.directoryId}/users/${ids[1]}`)).json();
    expect(one).toMatchObject({
      directory_id: c.directoryId,
      organization_id: c.organizationId,
      user_name: 'u1@acme.example',
      email: 'u1@acme.example',
      given_name: 'G1',
      family_name: 'F',
      active: true,
      groups: [{ id: g, display_name: 'Engineers' }],
      roles: ['engineer'],
      custom_attributes: { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'R&D' } },
      linked_user_id: null,
    });
    expect(one.raw_attributes).toMatchObject({ userName: 'u1@acme.example', name: { givenName: 'G1', familyName: 'F' } });
    const plain = (await admin.call('GET', `/api/directories/${c.directoryId}/users?page_size=1`)).json().users[0];
    expect(plain.raw_attributes).toBeUndefined();
    const inGroup = (await admin.call('GET', `/api/directories/${c.directoryId}/users?group_id=${g}`)).json().users.map((u: { id: string }) => u.id);
    expect(inGroup.toSorted()).toEqual([ids[1], ids[3]].toSorted());
    const groups = (await admin.call('GET', `/api/directories/${c.directoryId}/groups?include_detail=true`)).json();
    expect(groups).toMatchObject({ groups: [{ id: g, display_name: 'Engineers', member_count: 2, raw_attributes: { displayName: 'Engineers' } }], next_page_token: null });
    expect((await admin.call('GET', `/api/directories/${c.directoryId}/groups/${g}`)).json().member_count).toBe(2);
  });

  it('updated_after returns only records changed since', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const a = (await c.call('POST', '/Users', user('old@acme.example'))).json().id;
    const b = (await c.call('POST', '/Users', user('new@acme.example'))).json().id;
    const cut = new Date(Date.now() + 5).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await c.call('PATCH', `/Users/${b}`, patch({ op: 'replace', path: 'displayName', value: 'Changed' }));
    const res = (await admin.call('GET', `/api/directories/${c.directoryId}/users?updated_after=${encodeURIComponent(cut)}`)).json().users.map((u: { id: string }) => u.id);
    expect(res).toEqual([b]);
    expect(res).not.toContain(a);
  });

  it('bad parameters are 400, unknown records 404, another directory\'s records 404', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const d = await directoryScimClient(env, admin.tenant);
    const other = (await d.call('POST', '/Users', user('other@acme.example'))).json().id;
    for (const q of ['page_size=0', 'page_size=501', 'page_token=garbage', 'updated_after=yesterday', 'include_detail=maybe', 'group_id=x', 'unknown=1']) {
      const res = await admin.call('GET', `/api/directories/${c.directoryId}/users?${q}`);
      expect(res.statusCode, q).toBe(400);
    }
    expect((await admin.call('GET', `/api/directories/${c.directoryId}/users/${other}`)).statusCode).toBe(404);
    expect((await admin.call('GET', `/api/directories/${c.directoryId}/users?group_id=00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
    expect((await admin.call('GET', `/api/directories/${c.directoryId}/groups/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
  });
});
