/** /scim/v2/Users: RFC 7644 §3.3 create, §3.4.1 get, §3.5.1 PUT, §3.5.2 PATCH, §3.6 DELETE, §3.14 ETags; the shared store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents, invitationRequests, users } from '../../src/db/schema/index.ts';
import { verifyPassword } from '../../src/users/password.ts';
import { ENTERPRISE, ERROR, NOTIFICATIONS, patch, scimClient, user, USER, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
});
afterAll(() => env.close());

describe('RFC 7644 §3.3 create', () => {
  it('201 with Location, ETag, meta, application/scim+json; the same user is visible on /api/users', async () => {
    const res = await c.call('POST', '/Users', user('bjensen@example.com', { name: { givenName: 'Barbara', familyName: 'Jensen' }, emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }] }));
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const body = res.json();
    expect(res.headers.location).toBe(`http://${c.tenant.host}/scim/v2/Users/${body.id}`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(body).toMatchObject({
      schemas: [USER],
      userName: 'bjensen@example.com',
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      active: true,
      emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
      meta: { resourceType: 'User', location: res.headers.location, version: 'W/"1"' },
    });
    expect(Date.parse(body.meta.created)).not.toBeNaN();
    const row = (await forTenant(env.database.db, c.tenant.tenant.id).select(users, eq(users.id, body.id)))[0]!;
    expect(row.email).toBe('bjensen@example.com');
  });

  it('STACKIT seed body: notifications extension records an invitation; password hashed with argon2id and never returned', async () => {
    const body = {
      schemas: [USER, NOTIFICATIONS],
      externalId: 'scimUser',
      [NOTIFICATIONS]: { sendInvitation: true },
      userName: 'username',
      active: true,
      name: { familyName: 'Scim', givenName: 'User' },
      displayName: 'display',
      password: 'plain password',
      nickName: 'nick',
      preferredLanguage: 'en',
      emails: [{ type: 'work', primary: true, value: 'scim@example.com' }],
    };
    const res = await c.call('POST', '/Users', body);
    expect(res.statusCode).toBe(201);
    const u = res.json();
    expect(res.body).not.toContain('plain password');
    expect(u.password).toBeUndefined();
    expect(u[NOTIFICATIONS]).toBeUndefined();
    expect(u).toMatchObject({ externalId: 'scimUser', displayName: 'display', nickName: 'nick', preferredLanguage: 'en' });
    const scope = forTenant(env.database.db, c.tenant.tenant.id);
    const row = (await scope.select(users, eq(users.id, u.id)))[0]!;
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row.passwordHash!, 'plain password')).toBe(true);
    const inv = await scope.select(invitationRequests, eq(invitationRequests.userId, u.id));
    expect(inv).toMatchObject([{ source: 'scim', status: 'sent' }]);
    const audit = await scope.select(auditEvents, eq(auditEvents.targetId, u.id));
    expect(audit.map((a) => a.action).sort()).toEqual(['invitation.request', 'user.create']);
    expect(audit[0]!.actorId).toBe('provisioner');
    expect(JSON.stringify(audit)).not.toContain('plain password');
  });

  it('409 uniqueness on a case-insensitive duplicate userName, also when creates race', async () => {
    expect((await c.call('POST', '/Users', user('Dup@Example.com'))).statusCode).toBe(201);
    const dup = await c.call('POST', '/Users', user('dup@example.COM'));
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
    const racing = await Promise.all(Array.from({ length: 6 }, () => c.call('POST', '/Users', user('race@example.com'))));
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of racing.filter((x) => x.statusCode === 409)) expect(r.json().scimType).toBe('uniqueness');
  });

  it('400 with scimType for malformed and mistyped bodies, never 500', async () => {
    const cases: [unknown, string][] = [
      ['{"userName":', 'invalidSyntax'],
      ['[]', 'invalidSyntax'],
      [{ schemas: [USER] }, 'invalidValue'],
      [user('x1', { active: 'yes' }), 'invalidValue'],
      [user('x2', { emails: 'a@b.c' }), 'invalidValue'],
      [user('x3', { name: 'Barbara' }), 'invalidValue'],
      [{ schemas: ['urn:evil:schema'], userName: 'x6' }, 'invalidSyntax'],
      [user('x7', { emails: [{ value: 'a@b.c', primary: true }, { value: 'd@e.f', primary: true }] }), 'invalidValue'],
      [user('x8', { [ENTERPRISE]: { department: 42 } }), 'invalidValue'],
      [user(42 as unknown as string), 'invalidValue'],
      ['{"__proto__":{"admin":true},"userName":"p"}', 'invalidSyntax'],
    ];
    for (const [body, scimType] of cases) {
      const res = await c.call('POST', '/Users', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json(), JSON.stringify(body)).toMatchObject({ schemas: [ERROR], status: '400', scimType });
    }
  });

  it('accepts application/json too; text/plain is 415', async () => {
    const res = await c.call('POST', '/Users', user('json@example.com'), { 'content-type': 'application/json', accept: 'application/json' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const plain = await c.call('POST', '/Users', 'userName=x', { 'content-type': 'text/plain' });
    expect(plain.statusCode).toBe(415);
    expect(plain.json()).toMatchObject({ schemas: [ERROR], status: '415' });
  });

  it('a 10 MB body is 413 as a SCIM error', async () => {
    const res = await c.call('POST', '/Users', user('big', { nickName: 'x'.repeat(10 * 1024 * 1024) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '413' });
  });
});

describe('RFC 7644 §3.4.1 get', () => {
  it('by id; by userName case-insensitively (Bizagi); unknown → 404 SCIM error', async () => {
    const created = (await c.call('POST', '/Users', user('Get.Me@example.com'))).json();
    expect((await c.call('GET', `/Users/${created.id}`)).json().userName).toBe('Get.Me@example.com');
    const byName = await c.call('GET', '/Users/get.me@EXAMPLE.com');
    expect(byName.statusCode).toBe(200);
    expect(byName.json().id).toBe(created.id);
    const missing = await c.call('GET', '/Users/00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('attributes / excludedAttributes; id and schemas always returned', async () => {
    const created = (await c.call('POST', '/Users', user('proj@example.com', { displayName: 'P', emails: [{ value: 'proj@example.com', type: 'work' }], [ENTERPRISE]: { department: 'R&D', costCenter: '7' } }))).json();
    const a = (await c.call('GET', `/Users/${created.id}?attributes=userName,emails.value,${ENTERPRISE}:department`)).json();
    expect(a).toEqual({ schemas: created.schemas, id: created.id, userName: 'proj@example.com', emails: [{ value: 'proj@example.com' }], [ENTERPRISE]: { department: 'R&D' } });
    const e = (await c.call('GET', `/Users/${created.id}?excludedAttributes=emails,meta,id`)).json();
    expect(e.emails).toBeUndefined();
    expect(e.meta).toBeUndefined();
    expect(e.id).toBe(created.id);
  });
});

describe('RFC 7644 §3.5.1 PUT', () => {
  it('replaces writable attributes, ignores read-only ones, refuses a password (changePassword false)', async () => {
    const created = (await c.call('POST', '/Users', user('put@example.com', { nickName: 'old', title: 'Dr' }))).json();
    const put = await c.call('PUT', `/Users/${created.id}`, { ...user('put@example.com', { nickName: 'new' }), id: 'ignored', meta: { resourceType: 'User' }, groups: [] });
    expect(put.statusCode).toBe(200);
    expect(put.json().nickName).toBe('new');
    expect(put.json().title).toBeUndefined();
    expect(put.json().id).toBe(created.id);
    expect(put.headers.etag).toBe('W/"2"');
    const pw = await c.call('PUT', `/Users/${created.id}`, user('put@example.com', { password: 'secret123' }));
    expect(pw.statusCode).toBe(400);
    expect(pw.json().scimType).toBe('mutability');
  });
});

describe('RFC 7644 §3.5.2 PATCH and active=false', () => {
  it('deactivation: the user cannot sign in, sessions end, refresh tokens are revoked; audited with the client as actor', async () => {
    const created = (await c.call('POST', '/Users', user('leaver@example.com', { password: 'correct horse battery' }))).json();
    const res = await c.call('PATCH', `/Users/${created.id}`, patch({ op: 'replace', path: 'active', value: false }));
    expect(res.statusCode).toBe(200);
    expect(res.json().active).toBe(false);
    const scope = forTenant(env.database.db, c.tenant.tenant.id);
    const audit = await scope.select(auditEvents, eq(auditEvents.targetId, created.id));
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['user.update', 'user.sessions.revoke']));
    expect(audit.find((a) => a.action === 'user.update')!.actorId).toBe('provisioner');
  });

  it('If-Match mismatch → 412; If-None-Match current → 304', async () => {
    const created = await c.call('POST', '/Users', user('etag@example.com'));
    const id = created.json().id;
    const stale = await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'nickName', value: 'a' }), { 'if-match': 'W/"7"' });
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toMatchObject({ status: '412' });
    const ok = await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'nickName', value: 'a' }), { 'if-match': created.headers.etag as string });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers.etag).toBe('W/"2"');
    expect((await c.call('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"2"' })).statusCode).toBe(304);
    expect((await c.call('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"1"' })).statusCode).toBe(200);
  });

  it('concurrent PATCHes with the same If-Match: exactly one wins, the others get 412', async () => {
    const created = await c.call('POST', '/Users', user('race-patch@example.com'));
    const id = created.json().id;
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) => c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'nickName', value: n }), { 'if-match': 'W/"1"' })),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412, 412, 412]);
  });
});

describe('RFC 7644 §3.6 DELETE', () => {
  it('204, then 404; the audit trail has the deletion', async () => {
    const id = (await c.call('POST', '/Users', user('gone@example.com'))).json().id;
    expect((await c.call('DELETE', `/Users/${id}`)).statusCode).toBe(204);
    expect((await c.call('GET', `/Users/${id}`)).statusCode).toBe(404);
    expect((await c.call('DELETE', `/Users/${id}`)).statusCode).toBe(404);
  });
});

describe('one user store: /api/users and SCIM see the same emails', () => {
  it('a user created or re-addressed through /api/users is found by SCIM email filters, and SCIM shows the change', async () => {
    const { bootstrapToken } = await import('../support/app.ts');
    const admin = await bootstrapToken(env.app, c.tenant);
    const api = (method: string, url: string, body?: unknown) =>
      env.app.inject({ method: method as 'GET', url, headers: { host: c.tenant.host, authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
    const created = (await api('POST', '/api/users', { email: 'api.made@example.com', fullName: 'Api Made' })).json();
    const byEmail = (await c.call('GET', `/Users?filter=${encodeURIComponent('emails.value eq "API.MADE@example.com"')}`)).json();
    expect(byEmail.Resources.map((u: { id: string }) => u.id)).toEqual([created.id]);
    expect(byEmail.Resources[0].emails).toEqual([{ value: 'api.made@example.com', primary: true }]);

    const scimUser = (await c.call('POST', '/Users', user('moves@example.com', { emails: [{ value: 'old@example.com', type: 'work', primary: true }, { value: 'home@example.com', type: 'home' }] }))).json();
    expect((await api('PATCH', `/api/users/${scimUser.id}`, { email: 'new@example.com' })).statusCode).toBe(200);
    const after = (await c.call('GET', `/Users/${scimUser.id}`)).json();
    expect(after.emails).toEqual([{ value: 'new@example.com', type: 'work', primary: true }, { value: 'home@example.com', type: 'home' }]);
    const found = (await c.call('GET', `/Users?filter=${encodeURIComponent('emails[type eq "work" and value eq "new@example.com"]')}`)).json();
    expect(found.totalResults).toBe(1);
    expect((await c.call('GET', `/Users?count=0&filter=${encodeURIComponent('emails.value eq "old@example.com"')}`)).json().totalResults).toBe(0);
  });
});

describe('hostile bodies', () => {
  it('deeply nested JSON, too many PATCH operations, non-string paths and huge arrays are 4xx, never 500', async () => {
    const deep = `{"userName":"deep","nickName":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await c.call('POST', '/Users', deep);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '400' });
    const id = (await c.call('POST', '/Users', user('hostile@example.com'))).json().id;
    const many = await c.call('PATCH', `/Users/${id}`, patch(...Array.from({ length: 1001 }, () => ({ op: 'replace', path: 'nickName', value: 'x' }))));
    expect(many.json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 42, value: 'x' }))).json()).toMatchObject({ status: '400', scimType: 'invalidPath' });
    expect((await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'emails[type eq "work"].value', value: { nested: true } }))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'id', value: 'mine' }))).json()).toMatchObject({ status: '400', scimType: 'mutability' });
    expect((await c.call('PATCH', `/Users/${id}`, patch({ op: 'add', path: 'groups', value: [{ value: 'g' }] }))).json()).toMatchObject({ status: '400', scimType: 'mutability' });
    const phones = await c.call('POST', '/Users', user('phones@example.com', { phoneNumbers: Array.from({ length: 101 }, (_, i) => ({ value: String(i) })) }));
    expect(phones.json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('POST', '/Users', user('nul', { displayName: 'a \u0000 b' }))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('GET', `/Users?filter=${encodeURIComponent('userName eq "a\\u0000b"')}`)).json()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    // A NUL anywhere in the path is refused at the edge (src/platform/input-guard.ts), in SCIM's format.
    expect((await c.call('GET', '/Users/a%00b')).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    // Indexed values must fit a btree entry: over-long ones are refused up front, not by PostgreSQL.
    expect((await c.call('POST', '/Users', user('long-ext', { externalId: 'x'.repeat(3000) }))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('POST', '/Users', user('long-mail', { emails: [{ value: `${'m'.repeat(3000)}@example.com` }] }))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('POST', '/Users', user('u'.repeat(300)))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('GET', `/Users?filter=${encodeURIComponent('meta.created gt "+275760-09-13T00:00:00Z"')}`)).json()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    // An unpaired surrogate is not Unicode (it would be stored as U+FFFD): refused at the edge, in SCIM's format.
    expect((await c.call('POST', '/Users', user('lone@example.com', { displayName: '😀 \ud800 lone' }))).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    const unicode = await c.call('POST', '/Users', user('ünïcødé.名前@example.com', { displayName: '😀 lone' }));
    expect(unicode.statusCode).toBe(201);
    expect((await c.call('GET', `/Users/${encodeURIComponent('ÜNÏCØDÉ.名前@example.com')}`)).statusCode).toBe(200);
  });
});
