/** RFC 7644 §4 / RFC 7643 §5–§7: discovery without authentication; RFC 6750 bearer auth with scim.read / scim.write. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken, testEnv, type TestEnv } from '../support/app.ts';
import { ENTERPRISE, ERROR, GROUP, NOTIFICATIONS, scimClient, user, USER, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
});
afterAll(() => env.close());

const anon = (url: string) => env.app.inject({ method: 'GET', url: `/scim/v2${url}`, headers: { host: c.tenant.host } });

describe('discovery (no authentication)', () => {
  it('RFC 7644 §4: ServiceProviderConfig is truthful about patch, bulk limits, filter maxResults, sort, etag, changePassword', async () => {
    const res = await anon('/ServiceProviderConfig');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.json()).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 1048576 },
      filter: { supported: true, maxResults: 1000 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
      authenticationSchemes: [{ type: 'oauthbearertoken', primary: true }],
    });
  });

  it('RFC 7643 §6: ResourceTypes list User (with both extensions) and Group', async () => {
    const res = (await anon('/ResourceTypes')).json();
    expect(res.totalResults).toBe(2);
    expect(res.Resources[0]).toMatchObject({ id: 'User', endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }, { schema: NOTIFICATIONS, required: false }] });
    expect(res.Resources[1]).toMatchObject({ id: 'Group', endpoint: '/Groups', schema: GROUP });
    expect((await anon('/ResourceTypes/Group')).json().id).toBe('Group');
  });

  it('RFC 7643 §7: Schemas and Schemas/{urn} for User, Group, enterprise and notifications; unknown → 404', async () => {
    const all = (await anon('/Schemas')).json();
    expect(all.Resources.map((s: { id: string }) => s.id)).toEqual([USER, GROUP, ENTERPRISE, NOTIFICATIONS]);
    const u = (await anon(`/Schemas/${USER}`)).json();
    expect(u.attributes.find((a: { name: string }) => a.name === 'userName')).toMatchObject({ type: 'string', required: true, caseExact: false, uniqueness: 'server' });
    expect(u.attributes.find((a: { name: string }) => a.name === 'password')).toMatchObject({ mutability: 'immutable', returned: 'never' });
    const n = (await anon(`/Schemas/${NOTIFICATIONS}`)).json();
    expect(n.attributes).toMatchObject([{ name: 'sendInvitation', type: 'boolean' }]);
    expect((await anon(`/Schemas/${ENTERPRISE}`)).json().attributes.map((a: { name: string }) => a.name)).toContain('manager');
    const missing = await anon('/Schemas/urn:nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('an unknown SCIM path is a SCIM 404', async () => {
    const res = await c.call('GET', '/Nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '404' });
  });
});

describe('RFC 6750 bearer authentication', () => {
  it('no token → 401 with WWW-Authenticate, before the body is read', async () => {
    const res = await env.app.inject({ method: 'POST', url: '/scim/v2/Users', headers: { host: c.tenant.host, 'content-type': 'application/scim+json' }, payload: '{not json' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '401' });
  });

  it('scim.read may read but not write: 403 insufficient_scope naming scim.write', async () => {
    expect((await c.call('GET', '/Users', undefined, { authorization: `Bearer ${c.readOnly}` })).statusCode).toBe(200);
    expect((await c.call('POST', '/Users/.search', { filter: 'userName pr' }, { authorization: `Bearer ${c.readOnly}` })).statusCode).toBe(200);
    const res = await c.call('POST', '/Users', user('nope@example.com'), { authorization: `Bearer ${c.readOnly}` });
    expect(res.statusCode).toBe(403);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(res.headers['www-authenticate']).toContain('scope="scim.write"');
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '403' });
  });

  it('a token for another audience (iam/) is 401; garbage is 401; another tenant’s token is 401', async () => {
    const iam = await bootstrapToken(env.app, c.tenant);
    expect((await c.call('GET', '/Users', undefined, { authorization: `Bearer ${iam}` })).statusCode).toBe(401);
    expect((await c.call('GET', '/Users', undefined, { authorization: 'Bearer a.b.c' })).statusCode).toBe(401);
    expect((await c.call('GET', '/Users', undefined, { authorization: 'Bearer opaque-directory-token' })).statusCode).toBe(401);
    const other = await scimClient(env);
    expect((await c.call('GET', '/Users', undefined, { authorization: `Bearer ${other.write}` })).statusCode).toBe(401);
  });

  it('cross-tenant ids are 404', async () => {
    const other = await scimClient(env);
    const id = (await other.call('POST', '/Users', user('theirs@example.com'))).json().id;
    expect((await c.call('GET', `/Users/${id}`)).statusCode).toBe(404);
    expect((await c.call('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] })).statusCode).toBe(404);
    expect((await c.call('DELETE', `/Users/${id}`)).statusCode).toBe(404);
    expect((await c.call('GET', '/Users/theirs@example.com')).statusCode).toBe(404);
    const gid = (await other.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Theirs' })).json().id;
    expect((await c.call('GET', `/Groups/${gid}`)).statusCode).toBe(404);
    // Their user cannot be made a member of our group either.
    const mine = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Mine' })).json().id;
    const add = await c.call('PATCH', `/Groups/${mine}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] });
    expect(add.statusCode).toBe(400);
    expect(add.json().scimType).toBe('invalidValue');
    expect((await other.call('GET', `/Users/${id}`)).statusCode).toBe(200);
  });
});

describe('OpenAPI / Scalar', () => {
  it('lists the SCIM endpoints with tags, operationIds, the scope each needs, and examples', async () => {
    const doc = (await env.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: c.tenant.host } })).json();
    const users = doc.paths['/scim/v2/Users'];
    expect(users.post).toMatchObject({ operationId: 'scim.users.create', tags: ['SCIM Users'], security: [{ oauth2: ['scim.write'] }] });
    expect(users.get).toMatchObject({ operationId: 'scim.users.list', security: [{ oauth2: ['scim.read'] }] });
    expect(JSON.stringify(users.post.requestBody)).toContain('bjensen@example.com');
    expect(doc.paths['/scim/v2/Groups/{id}'].patch.operationId).toBe('scim.groups.patch');
    expect(doc.paths['/scim/v2/Bulk'].post.operationId).toBe('scim.bulk');
    expect(doc.paths['/scim/v2/ServiceProviderConfig'].get.security).toBeUndefined();
    expect(doc.components.securitySchemes.oauth2.flows.clientCredentials.scopes).toHaveProperty('scim.write');
  });
});
