/** `/api/tenant`: RFC 6750 bearer protection, RFC 9457 problems, tenant isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair, decodeJwt, base64url } from 'jose';
import { mintToken, basic, bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let a: TestTenant;
let b: TestTenant;
let tokenA: string;

beforeAll(async () => {
  env = await testEnv();
  a = await env.newTenant();
  b = await env.newTenant();
  tokenA = await bootstrapToken(env.app, a);
});
afterAll(() => env.close());

const get = (host: string, authorization?: string) =>
  env.app.inject({ url: '/api/tenant', headers: { host, ...(authorization ? { authorization } : {}) } });
const patch = (host: string, payload: string, headers: Record<string, string> = {}) =>
  env.app.inject({ method: 'PATCH', url: '/api/tenant', headers: { host, authorization: `Bearer ${tokenA}`, 'content-type': 'application/json', ...headers }, payload });

describe('GET /api/tenant', () => {
  it('200 with scope iam/', async () => {
    const res = await get(a.host, `Bearer ${tokenA}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: a.tenant.id, slug: a.tenant.slug, displayName: a.tenant.displayName, issuer: `http://${a.host}`, hosts: [a.host], settings: { scim: { passwordChange: false }, branding: { logoUrl: null, color: null } } });
  });

  it('RFC 6750 §3.1: no token → 401, a challenge without an error code, problem+json', async () => {
    const res = await get(a.host);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="iam"');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
  });

  it("a token issued by tenant A is rejected at tenant B (401 invalid_token)", async () => {
    const res = await get(b.host, `Bearer ${tokenA}`);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('RFC 9068 §4: a token for another API (aud damapi) → 401; one for iam/ and damapi/ → 200', async () => {
    const { createClientWithSecret } = await import('../../src/downstream/service.ts');
    const { forTenant } = await import('../../src/platform/db.ts');
    const c = await createClientWithSecret(forTenant(env.database.db, a.tenant.id), env.keys, { clientId: 'dam-only', clientType: 'MachineClient', displayName: 'DAM', allowedScopes: ['damapi/', 'iam/'] });
    const res0 = await env.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { host: a.host, authorization: basic(c.clientId, c.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&scope=damapi/',
    });
    const damToken = res0.json().access_token;
    // aud is damapi: not meant for /api at all → 401.
    expect((await get(a.host, `Bearer ${damToken}`)).statusCode).toBe(401);
    const res1 = await env.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { host: a.host, authorization: basic(c.clientId, c.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&scope=iam/ damapi/',
    });
    expect((await get(a.host, `Bearer ${res1.json().access_token}`)).statusCode).toBe(200);
  });

  it('RFC 6750 §3.1: 403 insufficient_scope when aud matches but the scope is missing', async () => {
    // Signed with the tenant's real key through the service, for audience iam without scope iam/.
    const { token } = await mintToken(env, a.tenant, { sub: a.clientId, clientId: a.clientId, scopes: ['scim.read'], audiences: ['iam'], ttlSeconds: 60 });
    const res = await get(a.host, `Bearer ${token}`);
    expect(res.statusCode).toBe(403);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="iam", error="insufficient_scope", error_description="This operation needs scope iam/.", scope="iam/"');
    expect(res.json()).toMatchObject({ status: 403, error: 'insufficient_scope' });
  });

  it('expired token → 401', async () => {
    const { token } = await mintToken(env, a.tenant, { sub: a.clientId, clientId: a.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: -10 });
    const res = await get(a.host, `Bearer ${token}`);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('expired');
  });

  it('forged tokens → 401: alg none, HS256 with the public key, a foreign key, a tampered payload', async () => {
    const claims = decodeJwt(tokenA);
    const header = JSON.parse(Buffer.from(tokenA.split('.')[0]!, 'base64url').toString());
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: header.kid }))}.${base64url.encode(JSON.stringify(claims))}.`;
    const jwks = (await env.app.inject({ url: '/oauth2/jwks', headers: { host: a.host } })).json();
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }).sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid }).sign(privateKey);
    const [h, , s] = tokenA.split('.');
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, scope: 'iam/ damapi/' }))}.${s}`;
    for (const forged of [none, hs, foreign, tampered, 'not-a-jwt', `${h}.${h}`]) {
      const res = await get(a.host, `Bearer ${forged}`);
      expect(res.statusCode, forged.slice(0, 30)).toBe(401);
    }
  });

  it('RFC 9068 §4: a JWT without typ at+jwt (e.g. an ID token shape) is rejected', async () => {
    const key = await env.app.services.keys.signingKey(a.tenant.id);
    const claims = decodeJwt(tokenA);
    const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
    expect((await get(a.host, `Bearer ${jwt}`)).statusCode).toBe(401);
  });

  it('a non-Bearer Authorization header → 400 invalid_request (RFC 6750 §3.1)', async () => {
    const res = await get(a.host, basic('a', 'b'));
    expect(res.statusCode).toBe(400);
  });
});

describe('PATCH /api/tenant and RFC 9457 problems', () => {
  it('renames the tenant', async () => {
    const res = await patch(a.host, JSON.stringify({ displayName: 'Acme' }));
    expect(res.statusCode).toBe(200);
    expect(res.json().displayName).toBe('Acme');
    expect((await get(a.host, `Bearer ${tokenA}`)).json().displayName).toBe('Acme');
  });

  it('settings: scim.passwordChange is changed alone, audited once; an empty body or an unknown setting is 400', async () => {
    const { forTenant } = await import('../../src/platform/db.ts');
    const { auditEvents } = await import('../../src/db/schema/index.ts');
    const { eq } = await import('drizzle-orm');
    const on = await patch(b.host, JSON.stringify({ scim: { passwordChange: true } }), { authorization: `Bearer ${await bootstrapToken(env.app, b)}` });
    expect(on.statusCode).toBe(200);
    expect(on.json()).toMatchObject({ displayName: b.tenant.displayName, settings: { scim: { passwordChange: true } } });
    expect((await get(a.host, `Bearer ${tokenA}`)).json().settings).toEqual({ scim: { passwordChange: false }, branding: { logoUrl: null, color: null } });
    const audit = await forTenant(env.database.db, b.tenant.id).select(auditEvents, eq(auditEvents.action, 'tenant.settings.update'));
    expect(audit).toMatchObject([{ targetType: 'tenant', targetId: b.tenant.id, before: { scim: { passwordChange: false } }, after: { scim: { passwordChange: true } } }]);
    for (const body of [{}, { scim: { passwordChange: 'yes' } }, { scim: { other: true } }]) expect((await patch(a.host, JSON.stringify(body))).statusCode, JSON.stringify(body)).toBe(400);
  });

  it('malformed JSON → 400 problem, never 500', async () => {
    const res = await patch(a.host, '{"displayName": ');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request', type: expect.stringContaining('malformed-body') });
  });

  it('unknown fields → 400 listing the zod issues', async () => {
    const res = await patch(a.host, JSON.stringify({ displayName: 'x', issuer: 'http://evil' }));
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ title: 'Bad Request', type: expect.stringContaining('validation') });
    expect(body.errors[0]).toMatchObject({ location: 'body', code: 'unrecognized_keys' });
    expect(body.errors[0].message).toContain('issuer');
  });

  it('wrong type → 400 naming the path', async () => {
    const res = await patch(a.host, JSON.stringify({ displayName: 42 }));
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toMatchObject({ path: '/displayName' });
  });

  it('oversized body → 413', async () => {
    const res = await patch(a.host, JSON.stringify({ displayName: 'x'.repeat(2 * 1024 * 1024) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ status: 413, title: 'Payload Too Large' });
  });

  it('unsupported media type → 415', async () => {
    const res = await patch(a.host, 'displayName=x', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(res.json().status).toBe(415);
  });

  it('unknown /api route → 404 problem', async () => {
    const res = await env.app.inject({ url: '/api/nope', headers: { host: a.host, authorization: `Bearer ${tokenA}` } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it("tenant B's token cannot rename tenant A", async () => {
    const tokenB = await bootstrapToken(env.app, b);
    const res = await env.app.inject({ method: 'PATCH', url: '/api/tenant', headers: { host: a.host, authorization: `Bearer ${tokenB}`, 'content-type': 'application/json' }, payload: '{"displayName":"pwned"}' });
    expect(res.statusCode).toBe(401);
    expect((await get(a.host, `Bearer ${tokenA}`)).json().displayName).not.toBe('pwned');
  });
});
