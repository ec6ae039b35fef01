/**
 * What a token is, it says (issue #9 items 2 and 3): the kind is read from `gty`, never from `sub === client_id`;
 * claims a signature cannot vouch for are checked (tid, iat, claim types); a revoked signing key fails its tokens on
 * every instance at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { bootstrapToken, mintToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';

let env: TestEnv;
let other: TestEnv;
let t: TestTenant;
let root: Api;

beforeAll(async () => {
  env = await testEnv();
  other = await testEnv();
  t = await env.newTenant();
  root = await apiFor(env, t);
});
afterAll(async () => {
  await other.close();
  await env.close();
});

const get = (app: TestEnv, token: string, url = '/api/tenant') => app.app.inject({ method: 'GET', url, headers: { host: t.host, authorization: `Bearer ${token}` } });

/** A token signed with the tenant's real signing key, with exactly these claims. */
async function forged(claims: Record<string, unknown>): Promise<string> {
  const key = await env.app.services.keys.signingKey(t.tenant.id);
  const entry = await env.app.services.directory.client(t.tenant.id, t.clientId);
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: t.tenant.issuer, sub: t.clientId, aud: 'iam', client_id: t.clientId, scope: 'iam/', jti: crypto.randomUUID(), iat: now, exp: now + 300, tid: t.tenant.id, gty: 'client_credentials', client_instance: entry!.client.instanceId, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete (payload as Record<string, unknown>)[k];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
}

describe('claims a signature cannot vouch for', () => {
  it('the control: a well-formed token passes', async () => {
    expect((await get(env, await forged({}))).statusCode).toBe(200);
  });

  it('a tid that is not the issuer’s tenant → 401', async () => {
    const res = await get(env, await forged({ tid: crypto.randomUUID() }));
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('invalid_token');
  });

  it('iat in the future beyond the skew → 401; within it → 200', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await get(env, await forged({ iat: now + 3600 }))).statusCode).toBe(401);
    expect((await get(env, await forged({ iat: now + 5 }))).statusCode).toBe(200);
  });

  it('a scope, sub or client_id that is not a string → 401, never 500', async () => {
    expect((await get(env, await forged({ scope: ['iam/'] }))).statusCode).toBe(401);
    expect((await get(env, await forged({ scope: { 'iam/': true } }))).statusCode).toBe(401);
    expect((await get(env, await forged({ gty: 42 }))).statusCode).toBe(401);
  });

  it('a token without its kind (gty) or client instance → 401', async () => {
    expect((await get(env, await forged({ gty: undefined }))).statusCode).toBe(401);
    expect((await get(env, await forged({ client_instance: undefined }))).statusCode).toBe(401);
  });
});

describe('token kind is explicit', () => {
  it('a user token whose sub equals a client id is a user token: no machine authority', async () => {
    const user = await mintToken(env, t.tenant, { sub: t.clientId, clientId: t.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300, grantType: 'authorization_code' });
    expect((await get(env, user.token)).statusCode).toBe(401);
    const machine = await mintToken(env, t.tenant, { sub: t.clientId, clientId: t.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300 });
    expect((await get(env, machine.token)).statusCode).toBe(200);
  });

  it('a client id shaped like a user id (UUID) is refused', async () => {
    const res = await root.call('PUT', `/api/downstream/MachineClient/${crypto.randomUUID()}`, { displayName: 'x', allowedScopes: ['damapi/'] });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('UUID');
  });

  it('introspection reports a user token as the user’s, read from gty', async () => {
    const admin = (await root.call('POST', '/api/users', { email: `adm-${Date.now()}@example.com` })).json();
    const { token } = await mintToken(env, t.tenant, { sub: admin.id, clientId: t.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300 });
    const res = await env.app.inject({
      method: 'POST',
      url: '/oauth2/introspect',
      headers: { host: t.host, authorization: 'Basic ' + Buffer.from(`${t.clientId}:${t.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
    expect(res.json()).toMatchObject({ active: true, sub: admin.id, username: admin.userName });
  });
});

describe('POST /api/keys/{kid}/revoke', () => {
  it('pulls the key from the JWKS and fails its tokens at once on every instance; signing moves on', async () => {
    const before = await bootstrapToken(env.app, t);
    expect((await get(env, before)).statusCode).toBe(200);
    // SCIM remembers signature checks: the revocation must reach past that too.
    expect((await root.call('PUT', `/api/downstream/MachineClient/${t.clientId}`, { displayName: 'Bootstrap', allowedScopes: ['iam/', 'scim.read'] })).statusCode).toBe(200);
    const scimToken = await bootstrapToken(env.app, t, 'scim.read');
    const scim = () => env.app.inject({ method: 'GET', url: '/scim/v2/Users?count=1', headers: { host: t.host, authorization: `Bearer ${scimToken}` } });
    expect((await scim()).statusCode).toBe(200);
    expect((await get(other, before)).statusCode).toBe(200);
    const kid = JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid as string;
    const res = await root.call('POST', `/api/keys/${kid}/revoke`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().revoked).toBe(kid);
    expect(res.json().active).not.toBe(kid);
    // This instance at once; the other when the commit's notification arrives.
    expect((await get(env, before)).statusCode).toBe(401);
    expect((await scim()).statusCode).toBe(401);
    await expect.poll(async () => (await get(other, before)).statusCode, { timeout: 5000 }).toBe(401);
    const jwks = await env.app.inject({ method: 'GET', url: '/oauth2/jwks', headers: { host: t.host } });
    expect(jwks.json().keys.map((k: { kid: string }) => k.kid)).not.toContain(kid);
    const after = await bootstrapToken(env.app, t);
    expect((await get(env, after)).statusCode).toBe(200);
    expect((await root.call('POST', `/api/keys/${kid}/revoke`)).statusCode).toBe(401);
    const fresh = await apiFor(env, t);
    expect((await fresh.call('POST', `/api/keys/${kid}/revoke`)).statusCode).toBe(404);
    const audit = (await fresh.call('GET', `/api/audit?action=keys.revoke`)).json();
    expect(audit.items[0]).toMatchObject({ target: { type: 'signing-key', id: kid } });
  });
});
