/**
 * CORS (Fetch standard) at the endpoints a browser client calls: a response is readable by an origin only when the
 * client the request is for registered that origin; preflights allow only what each endpoint needs; never credentials.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mintToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';

const A = 'http://localhost:5173';
const B = 'https://b.example.com';
let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  const api = await apiFor(env, t);
  for (const [id, origin] of [['spa-a', A], ['spa-b', B]]) {
    const res = await api.call('PUT', `/api/downstream/ClientSideApplication/${id}`, { displayName: id, allowedScopes: ['openid'], redirectUris: [`${origin}/callback`], allowedCorsOrigins: [origin] });
    expect(res.statusCode, res.body).toBe(201);
  }
});
afterAll(() => env.close());

const form = (url: string, body: Record<string, string>, origin?: string) =>
  env.app.inject({ method: 'POST', url, headers: { host: t.host, 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) }, payload: new URLSearchParams(body).toString() });

it('token and revocation answers are readable only by the origins of the client they are for', async () => {
  const token = (origin: string) => form('/oauth2/token', { client_id: 'spa-a', grant_type: 'refresh_token', refresh_token: 'not-a-token' }, origin);
  const own = await token(A);
  expect(own.statusCode).toBe(400);
  expect(own.headers['access-control-allow-origin']).toBe(A);
  expect(own.headers['access-control-allow-credentials']).toBeUndefined();
  expect(own.headers.vary).toContain('Origin');
  // B is registered, but by another client: it may not read spa-a's answers.
  const other = await token(B);
  expect(other.headers['access-control-allow-origin']).toBeUndefined();
  expect(other.headers.vary).toContain('Origin');
  expect((await token('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  expect((await form('/oauth2/revoke', { client_id: 'spa-b', token: 'x' }, B)).headers['access-control-allow-origin']).toBe(B);
  expect((await form('/oauth2/revoke', { client_id: 'spa-b', token: 'x' }, A)).headers['access-control-allow-origin']).toBeUndefined();
  // No client at all (authentication failed): nobody reads it.
  expect((await form('/oauth2/token', { client_id: 'nobody', grant_type: 'refresh_token' }, A)).headers['access-control-allow-origin']).toBeUndefined();
});

it('UserInfo is readable by the origins of the access token’s client only', async () => {
  const tenant = (await env.app.services.resolver.resolve(t.host))!;
  const user = await createUser(forTenant(env.database.db, t.tenant.id), systemActor('test'), { email: 'cors@example.com' });
  const { token } = await mintToken(env, tenant, { sub: user.id, clientId: 'spa-a', scopes: ['openid'], audiences: [tenant.issuer], ttlSeconds: 300 });
  const userinfo = (origin: string) => env.app.inject({ url: '/oauth2/userinfo', headers: { host: t.host, authorization: `Bearer ${token}`, origin } });
  const own = await userinfo(A);
  expect(own.statusCode, own.body).toBe(200);
  expect(own.headers['access-control-allow-origin']).toBe(A);
  const other = await userinfo(B);
  expect(other.statusCode).toBe(200);
  expect(other.headers['access-control-allow-origin']).toBeUndefined();
  // The client's SPA can read the error too (here: a token without openid).
  const { token: noOpenid } = await mintToken(env, tenant, { sub: user.id, clientId: 'spa-a', scopes: ['profile'], audiences: [tenant.issuer], ttlSeconds: 300 });
  const refused = await env.app.inject({ url: '/oauth2/userinfo', headers: { host: t.host, authorization: `Bearer ${noOpenid}`, origin: A } });
  expect(refused.statusCode).toBe(403);
  expect(refused.headers['access-control-allow-origin']).toBe(A);
});

it('preflights: only registered origins, and only the methods and headers each endpoint needs', async () => {
  const preflight = (url: string, origin: string) =>
    env.app.inject({ method: 'OPTIONS', url, headers: { host: t.host, origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  const token = await preflight('/oauth2/token', A);
  expect(token.statusCode).toBe(204);
  expect(token.headers['access-control-allow-origin']).toBe(A);
  expect(token.headers['access-control-allow-methods']).toBe('POST');
  expect(token.headers['access-control-allow-headers']).toBe('Content-Type, DPoP');
  expect(token.headers['access-control-allow-credentials']).toBeUndefined();
  expect((await preflight('/oauth2/userinfo', A)).headers['access-control-allow-headers']).toContain('Authorization');
  const jwks = await preflight('/oauth2/jwks', B);
  expect(jwks.headers['access-control-allow-methods']).toBe('GET');
  expect(jwks.headers['access-control-allow-headers']).toBeUndefined();
  const evil = await preflight('/oauth2/token', 'https://evil.example');
  expect(evil.statusCode).toBe(204);
  expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  expect(evil.headers['access-control-allow-methods']).toBeUndefined();
  // Public documents: any origin a browser client of the tenant registered.
  expect((await env.app.inject({ url: '/oauth2/jwks', headers: { host: t.host, origin: B } })).headers['access-control-allow-origin']).toBe(B);
});
