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
