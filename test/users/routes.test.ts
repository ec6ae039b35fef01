/** `/api/users`: the shared user store over HTTP: rules, concurrency, pagination, bad input and tenant isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { users } from '../../src/db/schema/index.ts';
import { usersRepository } from '../../src/users/repository.ts';
import { verifyPassword } from '../../src/users/password.ts';
import { apiFor, email, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const create = async (a: Api, body: Record<string, unknown>) => {
  const res = await a.call('POST', '/api/users', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
};

describe('creating users', () => {
  it('userName defaults to the email; fullName follows givenName and familyName when not given', async () => {
    const e = email('grace');
    const u = await create(api, { email: e, givenName: 'Grace', familyName: 'Hopper' });
    expect(u).toMatchObject({ email: e, userName: e, fullName: 'Grace Hopper', givenName: 'Grace', familyName: 'Hopper', active: true, roles: [], passwordSet: false, version: 1 });
    const res = await api.call('GET', `/api/users/${u.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.json()).toEqual({ ...u, identities: [] });
  });

  it('an email taken in any letter case → 409 problem naming the field; another tenant may use it', async () => {
    const e = email('dup');
    await create(api, { email: e });
    const res = await api.call('POST', '/api/users', { email: e.toUpperCase() });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 409, field: 'email' });
    expect((await other.call('POST', '/api/users', { email: e })).statusCode).toBe(201);
  });

  it('a userName taken → 409 naming userName', async () => {
    const name = `login-${Math.random().toString(36).slice(2)}`;
    await create(api, { email: email(), userName: name });
    const res = await api.call('POST', '/api/users', { email: email(), userName: name.toUpperCase() });
    expect(res.statusCode).toBe(409);
    expect(res.json().field).toBe('userName');
  });

  it('two creates racing with one email: exactly one 201 and one 409', async () => {
    const e = email('race');
    const results = await Promise.all([api.call('POST', '/api/users', { email: e }), api.call('POST', '/api/users', { email: e.toUpperCase() })]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    expect(results.find((r) => r.statusCode === 409)!.json().field).toBe('email');
    expect((await api.call('GET', `/api/users?email=${encodeURIComponent(e)}`)).json().items).toHaveLength(1);
  });

  it('a password is stored as an argon2id hash and never returned, audited or logged', async () => {
    const password = 'Correct-Horse-Battery-Staple-42';
    const u = await create(api, { email: email('pw'), password });
    expect(u.passwordSet).toBe(true);
    const [row] = await env.database.global.select().from(users).where(eq(users.id, u.id));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row!.passwordHash!, password)).toBe(true);

    const patched = await api.call('PATCH', `/api/users/${u.id}`, { password: 'Another-Password-123' });
    expect(patched.json().passwordSet).toBe(true);
    const cleared = await api.call('PATCH', `/api/users/${u.id}`, { password: null });
    expect(cleared.json().passwordSet).toBe(false);

    const seen = [
      (await api.call('GET', `/api/users/${u.id}`)).body,
      (await api.call('GET', '/api/users')).body,
      (await api.call('GET', `/api/audit?targetId=${u.id}`)).body,
      env.logs.join('\n'),
    ].join('\n');
    for (const secret of [password, 'Another-Password-123', row!.passwordHash!, '$argon2']) expect(seen).not.toContain(secret);
    const audit = (await api.call('GET', `/api/audit?targetId=${u.id}&action=user.update`)).json().items;
    expect(audit[1].after).toMatchObject({ passwordSet: true, passwordChanged: true });
  });
});

describe('changing and deleting users', () => {
  it('PATCH changes only the fields given; null removes; the version and ETag move on', async () => {
    const u = await create(api, { email: email(), fullName: 'Ada Admin', givenName: 'Ada' });
    const res = await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Ada Lovelace', givenName: null, active: false });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.json()).toMatchObject({ email: u.email, fullName: 'Ada Lovelace', givenName: null, active: false, version: 2 });
    // Nothing to change: no new version, no audit event.
    const same = await api.call('PATCH', `/api/users/${u.id}`, { active: false });
    expect(same.json().version).toBe(2);
    expect((await api.call('GET', `/api/audit?targetId=${u.id}`)).json().items.map((e: { action: string }) => e.action)).toEqual(['user.update', 'user.create']);
  });

  it('the audit event of a change holds the before and the after', async () => {
    const u = await create(api, { email: email(), fullName: 'Before' });
    await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'After' });
    const [event] = (await api.call('GET', `/api/audit?targetId=${u.id}&action=user.update`)).json().items;
    // The trail keeps the service's names (as SCIM changes do): the full name is `displayName` there.
    expect(event.before).toMatchObject({ displayName: 'Before', version: 1 });
    expect(event.after).toMatchObject({ displayName: 'After', version: 2 });
  });

  it('RFC 9110 §13.1.1: If-Match with the current ETag applies; a stale one → 412 and nothing changes', async () => {
    const u = await create(api, { email: email() });
    const ok = await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'One' }, { 'if-match': 'W/"1"' });
    expect(ok.statusCode).toBe(200);
    const stale = await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Two' }, { 'if-match': 'W/"1"' });
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toMatchObject({ status: 412, currentVersion: 2 });
    expect((await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Three' }, { 'if-match': '"2"' })).statusCode).toBe(200);
    expect((await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Four' }, { 'if-match': '*' })).statusCode).toBe(200);
    expect((await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Five' }, { 'if-match': 'garbage' })).statusCode).toBe(412);
    expect((await api.call('PATCH', `/api/users/${u.id}`, { fullName: 'Six' }, { 'if-match': 'W/"4", W/"5"' })).statusCode).toBe(400);
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toMatchObject({ fullName: 'Four', version: 4 });
    expect((await api.call('DELETE', `/api/users/${u.id}`, undefined, { 'if-match': 'W/"3"' })).statusCode).toBe(412);
    expect((await api.call('DELETE', `/api/users/${u.id}`, undefined, { 'if-match': 'W/"4"' })).statusCode).toBe(204);
  });

  it('concurrent PATCHes without If-Match are applied one after the other: no update is lost', async () => {
    const u = await create(api, { email: email() });
    const patches = [{ givenName: 'G' }, { familyName: 'F' }, { fullName: 'Full Name' }, { userName: `u-${u.id}` }, { active: false }, { email: email('moved') }];
    const results = await Promise.all(patches.map((p) => api.call('PATCH', `/api/users/${u.id}`, p)));
    expect(results.map((r) => r.statusCode)).toEqual(patches.map(() => 200));
    const final = (await api.call('GET', `/api/users/${u.id}`)).json();
    expect(final).toMatchObject({ givenName: 'G', familyName: 'F', fullName: 'Full Name', userName: `u-${u.id}`, active: false, email: patches[5]!.email, version: 1 + patches.length });
    // Every response saw a different version: each change was made on top of the previous one.
    expect(new Set(results.map((r) => r.json().version)).size).toBe(patches.length);
    expect((await api.call('GET', `/api/audit?targetId=${u.id}&action=user.update`)).json().items).toHaveLength(patches.length);
  });

  it('concurrent PATCHes with the same If-Match: one wins, the others get 412', async () => {
    const u = await create(api, { email: email() });
    const results = await Promise.all(['A', 'B', 'C'].map((n) => api.call('PATCH', `/api/users/${u.id}`, { fullName: n }, { 'if-match': 'W/"1"' })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412, 412]);
    const winner = results.find((r) => r.statusCode === 200)!.json();
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toMatchObject({ fullName: winner.fullName, version: 2 });
  });

  it('changing the email to one taken in this tenant → 409 naming email; the user is unchanged', async () => {
    const taken = email('taken');
    await create(api, { email: taken });
    const u = await create(api, { email: email() });
    const res = await api.call('PATCH', `/api/users/${u.id}`, { email: taken.toUpperCase() });
    expect(res.statusCode).toBe(409);
    expect(res.json().field).toBe('email');
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toEqual({ ...u, identities: [] });
  });

  it('DELETE removes the user and their roles; then 404', async () => {
    const u = await create(api, { email: email() });
    await api.call('POST', `/api/roles`, { name: 'deletable-holder', permissions: [] });
    await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['deletable-holder'] });
    expect((await api.call('DELETE', `/api/users/${u.id}`)).statusCode).toBe(204);
    expect((await api.call('GET', `/api/users/${u.id}`)).statusCode).toBe(404);
    expect((await api.call('DELETE', `/api/users/${u.id}`)).statusCode).toBe(404);
    const [event] = (await api.call('GET', `/api/audit?targetId=${u.id}&action=user.delete`)).json().items;
    expect(event).toMatchObject({ before: { id: u.id, email: u.email, roles: ['deletable-holder'] }, after: null });
  });
});

describe('listing users', () => {
  let api2: Api;
  let made: { id: string; email: string }[];
  beforeAll(async () => {
    api2 = await apiFor(env, await env.newTenant());
    await api2.call('POST', '/api/roles', { name: 'editor', permissions: ['users:read'] });
    made = [];
    for (const [i, body] of [
      { email: 'alice.smith@example.com', fullName: 'Alice Smith' },
      { email: 'bob@example.org', givenName: 'Bob', familyName: 'Stone' },
      { email: 'carol_x@example.com', fullName: 'Carol 100% Percent', active: false },
      { email: 'dave@EXAMPLE.com', fullName: 'Dave Smithers' },
    ].entries()) {
      made.push(await create(api2, body));
      if (i === 1) await api2.call('POST', `/api/users/${made[1]!.id}/roles`, { roles: ['editor'] });
    }
  });
  const ids = async (query: string) => (await api2.call('GET', `/api/users${query}`)).json().items.map((u: { id: string }) => u.id);

  it('searches by email and name (case-insensitive substrings), role and active; filters combine', async () => {
    expect(await ids('?email=EXAMPLE.COM')).toEqual([made[0]!.id, made[2]!.id, made[3]!.id]);
    expect(await ids('?name=smith')).toEqual([made[0]!.id, made[3]!.id]);
    expect(await ids('?name=bob%20stone')).toEqual([made[1]!.id]);
    expect(await ids('?role=editor')).toEqual([made[1]!.id]);
    expect(await ids('?role=admin')).toEqual([]);
    expect(await ids('?active=false')).toEqual([made[2]!.id]);
    expect(await ids('?active=true&name=smith&email=alice')).toEqual([made[0]!.id]);
  });

  it('LIKE wildcards in a search are literal: "%" and "_" match only themselves', async () => {
    expect(await ids('?name=%25')).toEqual([made[2]!.id]);
    expect(await ids('?email=_')).toEqual([made[2]!.id]);
  });

  it('pages are stable: (created_at, id) order, ties broken by id, no duplicates or gaps while users come and go', async () => {
    const t = await env.newTenant();
    const a = await apiFor(env, t);
    const scope = forTenant(env.database.db, t.tenant.id);
    // Ties: five users with one identical millisecond timestamp, and five sharing one transaction's now() (microseconds).
    const same = new Date();
    await scope.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await usersRepository(tx).insertUser({ userName: `ms-${i}`, email: `ms-${i}@example.com`, createdAt: same });
    });
    await scope.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await usersRepository(tx).insertUser({ userName: `us-${i}`, email: `us-${i}@example.com` });
    });
    const all = await env.database.global.select({ id: users.id, createdAt: users.createdAt }).from(users).where(eq(users.tenantId, t.tenant.id));
    expect(all).toHaveLength(10);

    const seen: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    let deleted: string | undefined;
    do {
      const res = await a.call('GET', `/api/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      seen.push(...body.items.map((u: { id: string }) => u.id));
      cursor = body.nextCursor;
      if (page === 0) {
        // Between pages: a new user arrives (it sorts last) and the cursor's own row is deleted.
        await create(a, { email: email('late') });
        deleted = body.items.at(-1).id;
        expect((await a.call('DELETE', `/api/users/${deleted}`)).statusCode).toBe(204);
      }
      page++;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(11);
    // The order the database gives for (created_at, id), checked on the rows that existed from the start.
    const ordered = (await env.database.global.select({ id: users.id }).from(users).where(eq(users.tenantId, t.tenant.id)).orderBy(users.createdAt, users.id)).map((r) => r.id);
    expect(seen.filter((id) => ordered.includes(id))).toEqual(ordered);
    expect(seen.slice(0, 3)).toContain(deleted);
  });

  it('a page carries at most `limit` items and a cursor only when more follow', async () => {
    const first = (await api2.call('GET', '/api/users?limit=2')).json();
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const rest = (await api2.call('GET', `/api/users?limit=200&cursor=${first.nextCursor}`)).json();
    expect(rest.items).toHaveLength(2);
    expect(rest.nextCursor).toBeNull();
  });
});

describe('bad input → 400/413/415 problems, never 500', () => {
  let id: string;
  beforeAll(async () => {
    id = (await create(api, { email: email() })).id;
  });

  it('unknown fields are named', async () => {
    const res = await api.call('POST', '/api/users', { email: email(), isAdmin: true, roles: ['admin'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['isAdmin', 'roles'] });
    expect(res.json().errors[0].message).toContain('isAdmin');
    const patch = await api.call('PATCH', `/api/users/${id}`, { passwordHash: 'x' });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().errors[0].message).toContain('passwordHash');
  });

  it('wrong types and invalid values name the path', async () => {
    for (const [body, path] of [
      [{ email: 42 }, '/email'],
      [{ email: 'not-an-email' }, '/email'],
      [{ email: email(), active: 'yes' }, '/active'],
      [{ email: email(), fullName: '' }, '/fullName'],
      [{ email: email(), password: 'short' }, '/password'],
      [{ email: email(), fullName: 'x'.repeat(300) }, '/fullName'],
    ] as const) {
      const res = await api.call('POST', '/api/users', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().errors[0].path).toBe(path);
    }
    expect((await api.call('POST', '/api/users', {})).statusCode).toBe(400);
    expect((await api.call('POST', '/api/users', [])).statusCode).toBe(400);
  });

  it('invalid ids → 400; unknown ids → 404', async () => {
    for (const bad of ['not-a-uuid', '1', `${id}x`, "' or 1=1 --"]) {
      const res = await api.call('GET', `/api/users/${encodeURIComponent(bad)}`);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().errors[0]).toMatchObject({ location: 'params', path: '/userId' });
    }
    const missing = await api.call('GET', '/api/users/6f1c1c52-4b8e-4f8e-9a57-6a1f3f0e2b11');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('malformed JSON → 400; oversized body → 413; not JSON → 415', async () => {
    const malformed = await api.raw('POST', '/api/users', '{"email": "a@b.c",');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ title: 'Bad Request', type: expect.stringContaining('malformed-body') });
    const big = await api.raw('POST', '/api/users', JSON.stringify({ email: email(), fullName: 'x'.repeat(2 * 1024 * 1024) }));
    expect(big.statusCode).toBe(413);
    const text = await api.raw('PATCH', `/api/users/${id}`, 'fullName=x', { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
  });

  it('bad query parameters: unknown names, limits, booleans and cursors', async () => {
    for (const q of ['?limit=0', '?limit=201', '?limit=abc', '?active=maybe', '?sort=email', '?cursor=bm90LWpzb24', '?cursor=%25%25']) {
      const res = await api.call('GET', `/api/users${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await api.call('DELETE', `/api/users/${id}?confirm=yes`)).statusCode).toBe(400);
  });
});

describe("tenant isolation: tenant B's token on B's host, addressing A's users", () => {
  it('GET, PATCH, DELETE of A\'s user → 404; B\'s list and search do not show it; A\'s user is unchanged', async () => {
    const u = await create(api, { email: email('isolated'), fullName: 'Tenant A' });
    expect((await other.call('GET', `/api/users/${u.id}`)).statusCode).toBe(404);
    expect((await other.call('PATCH', `/api/users/${u.id}`, { fullName: 'pwned' })).statusCode).toBe(404);
    expect((await other.call('PATCH', `/api/users/${u.id}`, { fullName: 'pwned' }, { 'if-match': 'W/"1"' })).statusCode).toBe(404);
    expect((await other.call('DELETE', `/api/users/${u.id}?confirm=true`)).statusCode).toBe(404);
    const list = (await other.call('GET', `/api/users?email=${encodeURIComponent(u.email)}&limit=200`)).json();
    expect(list.items).toEqual([]);
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toEqual({ ...u, identities: [] });
  });

  it("B's token at A's host → 401 on every management route", async () => {
    const u = await create(api, { email: email() });
    for (const [method, url] of [
      ['GET', '/api/users'],
      ['GET', `/api/users/${u.id}`],
      ['PATCH', `/api/users/${u.id}`],
      ['DELETE', `/api/users/${u.id}`],
      ['GET', `/api/users/${u.id}/roles`],
      ['POST', `/api/users/${u.id}/roles`],
      ['DELETE', `/api/users/${u.id}/roles/admin`],
      ['GET', '/api/roles'],
      ['POST', '/api/roles'],
      ['GET', '/api/roles/admin'],
      ['PUT', '/api/upstream/AzureAd/x'],
      ['GET', '/api/upstream'],
      ['GET', '/api/audit'],
    ] as const) {
      const res = await env.app.inject({ method, url, headers: { host: api.tenant.host, authorization: `Bearer ${other.token}`, 'content-type': 'application/json' }, payload: '{}' });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toEqual({ ...u, identities: [] });
  });

  it("a cursor from A's list does not reveal A's users at B", async () => {
    const page = (await api.call('GET', '/api/users?limit=1')).json();
    const res = await other.call('GET', `/api/users?limit=200&cursor=${page.nextCursor}`);
    expect(res.statusCode).toBe(200);
    const aIds = new Set((await api.call('GET', '/api/users?limit=200')).json().items.map((x: { id: string }) => x.id));
    expect(res.json().items.filter((x: { id: string }) => aIds.has(x.id))).toEqual([]);
  });
});
