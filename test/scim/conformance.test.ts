/**
 * What the vendors' validators and independent conformance suites send before a customer trusts the endpoint
 * (issue #10), one describe per item, each named after the RFC section or the client behaviour it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { mintToken, testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { users } from '../../src/db/schema/index.ts';
import { ENTERPRISE, ERROR, GROUP, patch, scimClient, user, USER, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
});
afterAll(() => env.close());

describe('RFC 7644 §3.12, RFC 6750 §3: every authentication failure is 401 with a Bearer challenge', () => {
  const expect401 = async (authorization: string | undefined) => {
    const res = await env.app.inject({ method: 'GET', url: '/scim/v2/Users', headers: { host: c.tenant.host, ...(authorization !== undefined ? { authorization } : {}) } });
    expect(res.statusCode, `Authorization: ${authorization}`).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="/);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '401' });
  };

  it('missing, not Bearer, malformed, invalid', async () => {
    await expect401(undefined);
    await expect401('non-token');
    await expect401('Basic cHJvdmlzaW9uZXI6c2VjcmV0');
    await expect401('Bearer');
    await expect401('Bearer a b');
    await expect401('Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
  });

  it('an expired token (signed by this tenant, for audience scim)', async () => {
    const { token } = await mintToken(env, c.tenant.tenant, { sub: 'provisioner', clientId: 'provisioner', scopes: ['scim.read'], audiences: ['scim'], ttlSeconds: -60 });
    await expect401(`Bearer ${token}`);
  });
});

describe('RFC 7643 §2.5: empty multi-valued attributes are not returned', () => {
  it('a group with no members has no "members" key (create, get, list)', async () => {
    const res = await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Empty', members: [] });
    expect(res.statusCode).toBe(201);
    expect(res.json()).not.toHaveProperty('members');
    expect((await c.call('GET', `/Groups/${res.json().id}`)).json()).not.toHaveProperty('members');
    const list = (await c.call('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Empty"')}`)).json();
    expect(list.Resources[0]).not.toHaveProperty('members');
  });
});

describe('RFC 6902 §4 (JSON Patch, which SCIM PATCH follows): members an operation does not define are ignored', () => {
  it('Microsoft validator: {"op":"add","name":"addMember","path":"members","value":[…]}', async () => {
    const u = (await c.call('POST', '/Users', user('member-by-name@example.com'))).json().id;
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Named op' })).json().id;
    const res = await c.call('PATCH', `/Groups/${g}`, patch({ op: 'add', name: 'addMember', path: 'members', value: [{ value: u }] }));
    expect(res.statusCode).toBe(204);
    expect((await c.call('GET', `/Groups/${g}`)).json().members.map((m: { value: string }) => m.value)).toEqual([u]);
    const ures = await c.call('PATCH', `/Users/${u}`, patch({ op: 'replace', path: 'displayName', value: 'Named', name: 'x', from: 'y' }));
    expect(ures.statusCode).toBe(200);
    expect(ures.json().displayName).toBe('Named');
  });
});

describe('trailing slashes: /Users/ is /Users, not /Users/{id} with an empty id', () => {
  it('GET /Users/?filter=…, GET /Groups/, POST /Users/, GET /Users/{id}/, GET /ServiceProviderConfig/', async () => {
    const created = await c.call('POST', '/Users/', user('slash@example.com'));
    expect(created.statusCode).toBe(201);
    const res = await c.call('GET', `/Users/?filter=${encodeURIComponent('userName eq "slash@example.com"')}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ totalResults: 1, Resources: [{ id: created.json().id }] });
    expect((await c.call('GET', '/Groups/')).statusCode).toBe(200);
    expect((await c.call('GET', `/Users/${created.json().id}/`)).json().id).toBe(created.json().id);
    expect((await c.call('GET', '/ServiceProviderConfig/')).statusCode).toBe(200);
    expect((await c.call('GET', '/Users/', undefined, { authorization: 'Bearer nope' })).statusCode).toBe(401);
  });
});

describe('Entra ID validator dialect rules (ADR 0004)', () => {
  it('a member as a bare string (or a list of strings) means {"value": …}: POST, PUT and PATCH', async () => {
    const u1 = (await c.call('POST', '/Users', user('bare1@example.com'))).json().id;
    const u2 = (await c.call('POST', '/Users', user('bare2@example.com'))).json().id;
    const created = await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Bare', members: [u1] });
    expect(created.statusCode).toBe(201);
    const g = created.json().id;
    const values = async () => ((await c.call('GET', `/Groups/${g}`)).json().members ?? []).map((m: { value: string }) => m.value).sort();
    expect(await values()).toEqual([u1]);
    expect((await c.call('PATCH', `/Groups/${g}`, patch({ op: 'add', path: 'members', value: u2 }))).statusCode).toBe(204);
    expect(await values()).toEqual([u1, u2].sort());
    expect((await c.call('PATCH', `/Groups/${g}`, patch({ op: 'remove', path: 'members', value: [u1] }))).statusCode).toBe(204);
    expect(await values()).toEqual([u2]);
    expect((await c.call('PUT', `/Groups/${g}`, { schemas: [GROUP], displayName: 'Bare', members: [u1, u2] })).statusCode).toBe(200);
    expect(await values()).toEqual([u1, u2].sort());
  });

  it('attributes the schemas do not define are ignored, not stored, not an error; an unknown PATCH path stays 400 invalidPath', async () => {
    const res = await c.call('POST', '/Users', {
      ...user('ignored@example.com'),
      adreses: [{ locality: 'Nowhere' }],
      name: { givenName: 'Ig', nickname: 'x' },
      [ENTERPRISE]: { schemas: [ENTERPRISE], department: 'Sales' },
      'urn:example:params:scim:schemas:extension:unknown:2.0:User': { a: 1 },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().id;
    const stored = (await forTenant(env.database.db, c.tenant.tenant.id).select(users, eq(users.id, id)))[0]!;
    expect(JSON.stringify(stored.attributes)).not.toMatch(/adreses|nickname|unknown|"schemas"/);
    expect(res.json()).toMatchObject({ name: { givenName: 'Ig' }, [ENTERPRISE]: { department: 'Sales' } });
    expect(res.json().name).toEqual({ givenName: 'Ig' });
    expect(res.json()).not.toHaveProperty('adreses');
    const put = await c.call('PUT', `/Users/${id}`, { ...user('ignored@example.com'), favouriteColour: 'blue', displayName: 'Put' });
    expect(put.statusCode).toBe(200);
    expect(put.json()).not.toHaveProperty('favouriteColour');
    const p = await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', value: { adreses: 'x', displayName: 'Patched' } }, { op: 'add', path: ENTERPRISE, value: { schemas: [ENTERPRISE], division: 'North' } }));
    expect(p.statusCode).toBe(200);
    expect(p.json()).toMatchObject({ displayName: 'Patched', [ENTERPRISE]: { division: 'North' } });
    expect(p.json()).not.toHaveProperty('adreses');
    const bad = await c.call('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'adreses', value: 'x' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ status: '400', scimType: 'invalidPath' });
  });

  it('attributes=emails[type eq "work"] is read as attributes=emails', async () => {
    const id = (await c.call('POST', '/Users', user('proj@example.com', { displayName: 'P', emails: [{ value: 'proj@example.com', type: 'work' }] }))).json().id;
    const res = await c.call('GET', `/Users/${id}?attributes=${encodeURIComponent('emails[type eq "work"],displayName')}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ schemas: [USER], id, displayName: 'P', emails: [{ value: 'proj@example.com', type: 'work' }] });
    const list = await c.call('GET', `/Users?filter=${encodeURIComponent('userName eq "proj@example.com"')}&attributes=${encodeURIComponent('emails[type eq "work"]')}`);
    expect(list.json().Resources).toEqual([{ schemas: [USER], id, emails: [{ value: 'proj@example.com', type: 'work' }] }]);
  });

  it('an unquoted comparison value that is not true/false/null/a number is a string (SCIMReferenceCode)', async () => {
    const id = (await c.call('POST', '/Users', user('Oscar.bare@example.com', { name: { familyName: 'Employee' } }))).json().id;
    const ids = async (filter: string) => {
      const res = await c.call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(res.statusCode, filter).toBe(200);
      return res.json().Resources.map((r: { id: string }) => r.id);
    };
    expect(await ids('name.familyName eq Employee')).toEqual([id]);
    expect(await ids('userName sw Oscar.b')).toEqual([id]);
    expect(await ids('userName sw Oscar.b and meta.created gt 2015-10-10T14:38:21.8617979-07:00')).toEqual([id]);
    // Quoted filters mean what they meant; a bare value where a keyword belongs is still an error.
    expect(await ids('name.familyName eq "Employee"')).toEqual([id]);
    const bad = await c.call('GET', `/Users?filter=${encodeURIComponent('userName eq and')}`);
    expect(bad.json()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
  });
});

describe('RFC 7644 §3.5.2.2, RFC 7643 §2.5: remove (or replace with null) unassigns a singular attribute', () => {
  it('remove active: left out of responses, stored inactive, so the user cannot sign in (fail closed); replace active true assigns it again', async () => {
    const created = (await c.call('POST', '/Users', user('unassign@example.com', { displayName: 'U', title: 'T' }))).json();
    expect(created.active).toBe(true);
    const res = await c.call('PATCH', `/Users/${created.id}`, patch({ op: 'remove', path: 'active' }, { op: 'replace', path: 'title', value: null }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).not.toHaveProperty('active');
    expect(res.json()).not.toHaveProperty('title');
    expect((await c.call('GET', `/Users/${created.id}`)).json()).not.toHaveProperty('active');
    const row = (await forTenant(env.database.db, c.tenant.tenant.id).select(users, eq(users.id, created.id)))[0]!;
    expect(row.active).toBe(false);
    // A later change that does not name active, and a PUT without it, leave it unassigned.
    expect((await c.call('PATCH', `/Users/${created.id}`, patch({ op: 'replace', path: 'displayName', value: 'V' }))).json()).not.toHaveProperty('active');
    expect((await c.call('PUT', `/Users/${created.id}`, user('unassign@example.com'))).json()).not.toHaveProperty('active');
    const back = await c.call('PATCH', `/Users/${created.id}`, patch({ op: 'replace', path: 'active', value: true }));
    expect(back.json().active).toBe(true);
    const off = await c.call('PATCH', `/Users/${created.id}`, patch({ op: 'replace', path: 'active', value: null }));
    expect(off.json()).not.toHaveProperty('active');
  });

  it('removing a required attribute is 400 mutability (userName, a group displayName)', async () => {
    const id = (await c.call('POST', '/Users', user('required@example.com'))).json().id;
    for (const op of [{ op: 'remove', path: 'userName' }, { op: 'replace', path: 'userName', value: null }]) {
      const res = await c.call('PATCH', `/Users/${id}`, patch(op));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ status: '400', scimType: 'mutability' });
    }
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Required' })).json().id;
    const res = await c.call('PATCH', `/Groups/${g}`, patch({ op: 'remove', path: 'displayName' }));
    expect(res.json()).toMatchObject({ status: '400', scimType: 'mutability' });
  });
});

describe('RFC 7644 §3.4.2.1, §3.4.3: queries at the server root search Users and Groups together', () => {
  let tenant: ScimClient;
  let u: string;
  let g: string;
  beforeAll(async () => {
    tenant = await scimClient(env);
    u = (await tenant.call('POST', '/Users', user('root-alice@example.com', { displayName: 'Root Team' }))).json().id;
    await tenant.call('POST', '/Users', user('root-bob@example.com', { displayName: 'Bob' }));
    g = (await tenant.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Root Team', members: [{ value: u }] })).json().id;
    await tenant.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Other' });
  });

  it('GET /scim/v2?filter=displayName eq …: the user and the group, each with meta.resourceType', async () => {
    for (const url of ['/scim/v2', '/scim/v2/']) {
      const res = await tenant.call('GET', `${url}?filter=${encodeURIComponent('displayName eq "Root Team"')}`);
      expect(res.statusCode, url).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 2, startIndex: 1, itemsPerPage: 2 });
      expect(body.Resources.map((r: { id: string; meta: { resourceType: string } }) => [r.id, r.meta.resourceType])).toEqual([[u, 'User'], [g, 'Group']]);
    }
  });

  it('POST /.search: an attribute one type lacks has no value there; attributes apply per type; paging spans both', async () => {
    const res = await tenant.call('POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "root-" or displayName eq "Other"', attributes: ['displayName'] });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.totalResults).toBe(3);
    expect(body.Resources).toEqual([
      { schemas: [USER], id: u, displayName: 'Root Team', meta: { resourceType: 'User' } },
      expect.objectContaining({ displayName: 'Bob', meta: { resourceType: 'User' } }),
      expect.objectContaining({ schemas: [GROUP], displayName: 'Other', meta: { resourceType: 'Group' } }),
    ]);
    // `not` of an attribute a type lacks matches all of that type (it has no value there).
    const not = (await tenant.call('POST', '/.search', { filter: 'not (members pr)', excludedAttributes: ['members', 'groups'] })).json();
    expect(not.totalResults).toBe(3);
    const page = (await tenant.call('GET', `/scim/v2?startIndex=2&count=2&excludedAttributes=members`)).json();
    expect(page).toMatchObject({ totalResults: 4, startIndex: 2, itemsPerPage: 2 });
    expect(page.Resources.map((r: { meta: { resourceType: string } }) => r.meta.resourceType)).toEqual(['User', 'Group']);
    expect(page.Resources[1]).not.toHaveProperty('members');
  });

  it('a path neither type has is 400 invalidFilter; sortBy is 400 invalidValue; no token is 401', async () => {
    expect((await tenant.call('GET', `/scim/v2?filter=${encodeURIComponent('nope eq "x"')}`)).json()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    expect((await tenant.call('POST', '/.search', { sortBy: 'displayName' })).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await env.app.inject({ method: 'GET', url: '/scim/v2', headers: { host: tenant.tenant.host } })).statusCode).toBe(401);
  });
});

describe('RFC 7644 §3.14: ETags never go stale', () => {
  const etag = async (url: string) => {
    const res = await c.call('GET', url);
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(res.json().meta.version);
    return { etag: res.headers.etag as string, body: res.json() };
  };

  it("a group's version changes when a member disappears because the user (or member group) was deleted", async () => {
    const u = (await c.call('POST', '/Users', user('etag-member@example.com'))).json().id;
    const inner = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'ETag inner' })).json().id;
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'ETag outer', members: [{ value: u }, { value: inner }] })).json().id;
    const before = await etag(`/Groups/${g}`);
    expect((await c.call('GET', `/Groups/${g}`, undefined, { 'if-none-match': before.etag })).statusCode).toBe(304);
    expect((await c.call('DELETE', `/Users/${u}`)).statusCode).toBe(204);
    const afterUser = await etag(`/Groups/${g}`);
    expect(afterUser.etag).not.toBe(before.etag);
    expect(afterUser.body.members.map((m: { value: string }) => m.value)).toEqual([inner]);
    expect((await c.call('GET', `/Groups/${g}`, undefined, { 'if-none-match': before.etag })).statusCode).toBe(200);
    expect((await c.call('DELETE', `/Groups/${inner}`)).statusCode).toBe(204);
    const afterGroup = await etag(`/Groups/${g}`);
    expect(afterGroup.etag).not.toBe(afterUser.etag);
    expect(afterGroup.body).not.toHaveProperty('members');
  });

  it("a user's version and groups change when their memberships change (add, remove, replace, group deleted)", async () => {
    const u = (await c.call('POST', '/Users', user('etag-user@example.com'))).json().id;
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'ETag group' })).json().id;
    const v0 = await etag(`/Users/${u}`);
    expect(v0.body).not.toHaveProperty('groups');
    await c.call('PATCH', `/Groups/${g}`, patch({ op: 'add', path: 'members', value: [{ value: u }] }));
    const v1 = await etag(`/Users/${u}`);
    expect(v1.etag).not.toBe(v0.etag);
    expect(v1.body.groups.map((x: { value: string }) => x.value)).toEqual([g]);
    // If-Match with the version read before the membership change is refused.
    expect((await c.call('PATCH', `/Users/${u}`, patch({ op: 'replace', path: 'displayName', value: 'x' }), { 'if-match': v0.etag })).statusCode).toBe(412);
    await c.call('PATCH', `/Groups/${g}`, patch({ op: 'remove', path: `members[value eq "${u}"]` }));
    const v2 = await etag(`/Users/${u}`);
    expect(v2.etag).not.toBe(v1.etag);
    expect(v2.body).not.toHaveProperty('groups');
    await c.call('PUT', `/Groups/${g}`, { schemas: [GROUP], displayName: 'ETag group', members: [{ value: u }] });
    const v3 = await etag(`/Users/${u}`);
    expect(v3.etag).not.toBe(v2.etag);
    await c.call('DELETE', `/Groups/${g}`);
    const v4 = await etag(`/Users/${u}`);
    expect(v4.etag).not.toBe(v3.etag);
    expect(v4.body).not.toHaveProperty('groups');
  });
});

describe('RFC 7644 §3.5.2: one documented PATCH response rule', () => {
  it('Users 200 with the resource; Groups 204, or 200 when attributes/excludedAttributes ask for a body; documented in ServiceProviderConfig', async () => {
    const u = (await c.call('POST', '/Users', user('rule@example.com'))).json().id;
    const ures = await c.call('PATCH', `/Users/${u}`, patch({ op: 'replace', path: 'displayName', value: 'Rule' }));
    expect(ures.statusCode).toBe(200);
    expect(ures.json()).toMatchObject({ id: u, displayName: 'Rule', meta: { version: ures.headers.etag } });
    const g = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Rule', members: [{ value: u }] })).json().id;
    const g204 = await c.call('PATCH', `/Groups/${g}`, patch({ op: 'replace', path: 'displayName', value: 'Rule 2' }));
    expect(g204.statusCode).toBe(204);
    expect(g204.body).toBe('');
    expect(g204.headers.etag).toMatch(/^W\/"\d+"$/);
    const g200 = await c.call('PATCH', `/Groups/${g}?excludedAttributes=members`, patch({ op: 'replace', path: 'displayName', value: 'Rule 3' }));
    expect(g200.statusCode).toBe(200);
    expect(g200.json()).toMatchObject({ id: g, displayName: 'Rule 3' });
    expect(g200.json()).not.toHaveProperty('members');
    const doc = (await env.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: c.tenant.host } })).json();
    const spc = doc.paths['/scim/v2/ServiceProviderConfig'].get.description as string;
    expect(spc).toContain('/Users/{id} answers 200');
    expect(spc).toContain('/Groups/{id} answers 204');
    expect(JSON.stringify(doc.paths)).not.toContain('.slash');
  });
});
