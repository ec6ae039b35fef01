/**
 * What the vendors' validators and independent conformance suites send before a customer trusts the endpoint
 * (issue #10), one describe per item, each named after the RFC section or the client behaviour it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { ERROR, GROUP, patch, scimClient, user, type ScimClient } from './support.ts';

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
    const { token } = await env.app.services.tokens.issue(c.tenant.tenant, { sub: 'provisioner', clientId: 'provisioner', scopes: ['scim.read'], audiences: ['scim'], ttlSeconds: -60 });
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
