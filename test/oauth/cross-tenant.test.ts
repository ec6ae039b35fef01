/**
 * One tenant never honours another's grants (issue #9 item 12): sessions, authorization codes, refresh tokens,
 * access tokens and linked identities of tenant A are nothing at tenant B, even with a client of the same id and
 * secret there. Both tenants are served by one listening instance, told apart by the Host header.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { forTenant } from '../../src/platform/db.ts';
import { identitiesRepository } from '../../src/users/identities.ts';
import { newTenant, type TestTenant } from '../support/app.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let b: TestTenant;
let baseB: string;
const REDIRECT = 'https://app.example.com/callback';
const SECRET = 'x'.repeat(40);
const PASSWORD = 'correct horse battery staple';
const insecure = { execute: [client.allowInsecureRequests] };
let userA: string;

async function api(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return res.status;
}
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  env = await listeningEnv();
  const { port } = env.app.server.address() as AddressInfo;
  baseB = `http://localhost:${port}`;
  b = await newTenant(env.database, env.keys, { host: `localhost:${port}`, issuer: baseB });
  tokenA = await bootstrapTokenHttp(env.base, env.tenant);
  tokenB = await bootstrapTokenHttp(baseB, b);
  for (const [base, token] of [[env.base, tokenA], [baseB, tokenB]] as const) {
    const body = { displayName: 'App', allowedScopes: ['openid', 'offline_access'], redirectUris: [REDIRECT], clientSecret: SECRET };
    expect(await api(base, token, 'PUT', '/api/downstream/InteractiveApplication/same-app', body)).toBe(201);
  }
  userA = (await createUser(forTenant(env.database.db, env.tenant.tenant.id), systemActor('test'), { email: 'ada@example.com', password: PASSWORD })).id;
});
afterAll(() => env.close());

async function codeAtA(browser: Browser) {
  const config = await client.discovery(new URL(env.base), 'same-app', SECRET, undefined, insecure);
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'st' });
  const first = await browser.follow(url.toString(), (u) => u.startsWith('https://'));
  let target = first.url;
  if (target.includes('/login')) {
    const posted = await browser.signIn(target, 'ada@example.com', PASSWORD);
    target = (await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => u.startsWith('https://'))).url;
  }
  return { config, verifier, callback: new URL(target) };
}

const tokenAt = (base: string, body: Record<string, string>) =>
  fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`same-app:${SECRET}`).toString('base64') },
    body: new URLSearchParams(body),
  });

it('an authorization code of tenant A is invalid at tenant B', async () => {
  const { callback, verifier } = await codeAtA(new Browser());
  const res = await tokenAt(baseB, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  // Still unused at A: the failed attempt at B did not consume it.
  const ok = await tokenAt(env.base, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
  expect(ok.status).toBe(200);
});

it('refresh and access tokens of tenant A are nothing at tenant B', async () => {
  const browser = new Browser();
  const { config, verifier, callback } = await codeAtA(browser);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st' });
  const refresh = await tokenAt(baseB, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
  const info = await fetch(`${baseB}/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  expect(info.status).toBe(401);
  const introspected = await fetch(`${baseB}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`same-app:${SECRET}`).toString('base64') },
    body: new URLSearchParams({ token: tokens.refresh_token! }),
  });
  expect(await introspected.json()).toEqual({ active: false });
  // Revoking A's refresh token at B does nothing to it (RFC 7009 §2.2 answers 200 either way).
  const revoked = await fetch(`${baseB}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`same-app:${SECRET}`).toString('base64') },
    body: new URLSearchParams({ token: tokens.refresh_token! }),
  });
  expect(revoked.status).toBe(200);
  expect((await client.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
});

it('a session of tenant A does not sign anyone in at tenant B', async () => {
  const browser = new Browser();
  await codeAtA(browser);
  expect(browser.cookies.size).toBeGreaterThan(0);
  const q = new URLSearchParams({ response_type: 'code', client_id: 'same-app', redirect_uri: REDIRECT, scope: 'openid', state: 's', prompt: 'none', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  // The same cookies, sent to B's host, as a browser would not do but an attacker can.
  const atB = await browser.request(`${baseB}/oauth2/authorize?${q}`);
  expect(new URL(atB.headers.get('location')!).searchParams.get('error')).toBe('login_required');
  const atA = await browser.request(`${env.base}/oauth2/authorize?${q}`);
  expect(new URL(atA.headers.get('location')!).searchParams.get('code')).toBeTruthy();
});

it('linked identities of tenant A cannot be read or unlinked from tenant B', async () => {
  const scopeA = forTenant(env.database.db, env.tenant.tenant.id);
  await identitiesRepository(scopeA).link({ userId: userA, providerType: 'AzureAd', providerId: 'corp', subject: 'sub-1', email: 'ada@example.com' });
  expect(await api(baseB, tokenB, 'GET', `/api/users/${userA}/identities`)).toBe(404);
  expect(await api(baseB, tokenB, 'DELETE', `/api/users/${userA}/identities/AzureAd/corp/sub-1`)).toBe(404);
  expect(await api(env.base, tokenA, 'GET', `/api/users/${userA}/identities`)).toBe(200);
  expect(await identitiesRepository(scopeA).find('AzureAd', 'corp', 'sub-1')).toMatchObject({ userId: userA });
});
