/**
 * The authorization server driven by real client libraries over loopback: openid-client v6 and oauth4webapi do the
 * flows; jose's createRemoteJWKSet + jwtVerify plays the resource server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, decodeJwt } from 'jose';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { forTenant } from '../../src/platform/db.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let admin: string;
const REDIRECT = 'https://app.example.com/callback';
const SPA_REDIRECT = 'http://localhost:5173/callback';
const PASSWORD = 'correct horse battery staple';
let userId: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
}

const insecure = { execute: [client.allowInsecureRequests] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response) => res.json() as Promise<any>;

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  expect((await api('PUT', '/api/downstream/MachineClient/dam-sync', { displayName: 'DAM sync', allowedScopes: ['damapi/', 'searchapi/'], clientSecret: 's'.repeat(40) })).status).toBe(201);
  expect(
    (await api('PUT', '/api/downstream/InteractiveApplication/backoffice', {
      displayName: 'Back office',
      allowedScopes: ['openid', 'profile', 'email', 'offline_access', 'iam/'],
      redirectUris: [REDIRECT],
      postLogoutRedirectUris: ['https://app.example.com/bye'],
      clientSecret: 'b'.repeat(40),
    })).status,
  ).toBe(201);
  expect((await api('PUT', '/api/downstream/ClientSideApplication/spa', { displayName: 'SPA', allowedScopes: ['openid', 'offline_access', 'searchapi/'], redirectUris: [SPA_REDIRECT], allowedCorsOrigins: ['http://localhost:5173'] })).status).toBe(201);
  const scope = forTenant(env.database.db, env.tenant.tenant.id);
  const user = await createUser(scope, systemActor('test'), { email: 'ada@example.com', displayName: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', emailVerified: true, password: PASSWORD });
  userId = user.id;
});
afterAll(() => env.close());

async function signInAndGetCallback(url: URL, browser = new Browser()): Promise<{ callback: URL; browser: Browser }> {
  const first = await browser.follow(url.toString(), (u) => u.startsWith('https://'));
  let target = first.url;
  if (target.includes('/login')) {
    const posted = await browser.signIn(target, 'ada@example.com', PASSWORD);
    expect(posted.status).toBe(303);
    const after = await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => !u.startsWith(env.base));
    target = after.url;
  }
  return { callback: new URL(target), browser };
}

describe('client_credentials with openid-client', () => {
  it('client_secret_basic: a token the resource server verifies with the remote JWKS', async () => {
    const config = await client.discovery(new URL(env.base), 'dam-sync', undefined, client.ClientSecretBasic('s'.repeat(40)), insecure);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'damapi/' });
    expect(tokens.token_type).toBe('bearer');
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${env.base}/oauth2/jwks`)), { issuer: env.base, audience: 'damapi', typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: 'dam-sync', client_id: 'dam-sync', scope: 'damapi/' });
  });

  it('client_secret_post, without scope: all allowed API scopes, one audience per API', async () => {
    const config = await client.discovery(new URL(env.base), 'dam-sync', undefined, client.ClientSecretPost('s'.repeat(40)), insecure);
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.scope).toBe('damapi/ searchapi/');
    expect(decodeJwt(tokens.access_token).aud).toEqual(['damapi', 'searchapi']);
  });

  it('private_key_jwt (RFC 7523) with oauth4webapi; a replayed assertion is refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    expect((await api('PUT', '/api/downstream/MachineClient/pkjwt', { displayName: 'PKJWT', allowedScopes: ['damapi/'], jwks: { keys: [jwk] } })).status).toBe(201);
    const as = await oauth.processDiscoveryResponse(new URL(env.base), await oauth.discoveryRequest(new URL(env.base), { [oauth.allowInsecureRequests]: true }));
    const c: oauth.Client = { client_id: 'pkjwt' };
    const auth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'k1' });
    const res = await oauth.clientCredentialsGrantRequest(as, c, auth, new URLSearchParams({ scope: 'damapi/' }), { [oauth.allowInsecureRequests]: true });
    const tokens = await oauth.processClientCredentialsResponse(as, c, res);
    expect(decodeJwt(tokens.access_token).client_id).toBe('pkjwt');
    // The same assertion twice: RFC 7523 §3 item 7.
    let assertion = '';
    const capture = await oauth.clientCredentialsGrantRequest(as, c, auth, new URLSearchParams({ scope: 'damapi/' }), {
      [oauth.allowInsecureRequests]: true,
      [oauth.customFetch]: async (url, init) => {
        assertion = new URLSearchParams(String(init.body)).get('client_assertion')!;
        return fetch(url, init);
      },
    });
    expect(capture.status).toBe(200);
    const replay = await fetch(`${env.base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
    });
    expect(replay.status).toBe(401);
    // A key the client did not register does not authenticate.
    const other = await generateKeyPair('ES256');
    const forged = await oauth.clientCredentialsGrantRequest(as, c, oauth.PrivateKeyJwt({ key: other.privateKey, kid: 'k1' }), new URLSearchParams(), { [oauth.allowInsecureRequests]: true });
    expect(forged.status).toBe(401);
  });
});

describe('authorization_code + PKCE with openid-client', () => {
  it('InteractiveApplication: sign-in, code, tokens, ID token, userinfo, refresh rotation, introspection, revocation', async () => {
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, insecure);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid profile email offline_access iam/', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce });
    const { callback } = await signInAndGetCallback(url);
    expect(callback.origin + callback.pathname).toBe(REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(env.base);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const idClaims = tokens.claims()!;
    expect(idClaims).toMatchObject({ sub: userId, email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', tid: env.tenant.tenant.id, roles: [], aud: 'backoffice', nonce });
    expect(tokens.refresh_token).toBeTruthy();
    const at = decodeJwt(tokens.access_token);
    expect(at).toMatchObject({ sub: userId, client_id: 'backoffice', aud: 'iam' });

    const info = await client.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).toMatchObject({ sub: userId, email: 'ada@example.com', given_name: 'Ada' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    // RFC 9700 §4.14.2: the rotated token is dead, and presenting it kills the family.
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    const live = await client.tokenIntrospection(config, refreshed.access_token);
    expect(live).toMatchObject({ active: true, sub: userId, client_id: 'backoffice', username: 'ada@example.com' });
    await client.tokenRevocation(config, refreshed.access_token);
    expect(await client.tokenIntrospection(config, refreshed.access_token)).toEqual({ active: false });
    await expect(client.fetchUserInfo(config, refreshed.access_token, userId)).rejects.toThrow();
  });

  it('EdDSA per client (RFC 8037): ID and access tokens signed with Ed25519, published as an OKP key, at_hash with SHA-512', async () => {
    expect((await api('PUT', '/api/downstream/InteractiveApplication/ed-app', { displayName: 'Ed app', allowedScopes: ['openid', 'email'], redirectUris: [REDIRECT], clientSecret: 'e'.repeat(40), tokenSigningAlg: 'EdDSA' })).status).toBe(201);
    const config = await client.discovery(new URL(env.base), 'ed-app', 'e'.repeat(40), undefined, insecure);
    expect(config.serverMetadata().id_token_signing_alg_values_supported).toContain('EdDSA');
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'ed', nonce });
    const { callback } = await signInAndGetCallback(url);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'ed', expectedNonce: nonce, idTokenExpected: true });
    const jwks = createRemoteJWKSet(new URL(`${env.base}/oauth2/jwks`));
    const id = await jwtVerify(tokens.id_token!, jwks, { issuer: env.base, audience: 'ed-app', algorithms: ['EdDSA'] });
    expect(id.protectedHeader.alg).toBe('EdDSA');
    // OpenID Connect Core errata set 2, §3.1.3.6: for Ed25519 the left half of SHA-512.
    const sha512 = (await import('node:crypto')).createHash('sha512').update(tokens.access_token).digest();
    expect(id.payload.at_hash).toBe(sha512.subarray(0, 32).toString('base64url'));
    const at = await jwtVerify(tokens.access_token, jwks, { issuer: env.base, algorithms: ['EdDSA'] });
    expect(at.protectedHeader.alg).toBe('EdDSA');
    const published = ((await json(await fetch(`${env.base}/oauth2/jwks`))).keys as { kid: string; kty: string; crv?: string; d?: string }[]).find((k) => k.kid === at.protectedHeader.kid)!;
    expect(published).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(published.d).toBeUndefined();
    // Our own verification path accepts it (userinfo), and refuses it once tampered.
    expect(await client.fetchUserInfo(config, tokens.access_token, userId)).toMatchObject({ sub: userId, email: 'ada@example.com' });
    const [h, p, sig] = tokens.access_token.split('.');
    const forged = `${h}.${p}.${sig!.slice(0, -4)}${sig!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect((await fetch(`${env.base}/oauth2/userinfo`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('ClientSideApplication: a public client with PKCE; its refresh tokens rotate', async () => {
    const config = await client.discovery(new URL(env.base), 'spa', undefined, client.None(), insecure);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: SPA_REDIRECT, scope: 'openid offline_access searchapi/', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    const browser = new Browser();
    const first = await browser.follow(url.toString());
    const posted = await browser.signIn(first.url, 'ada@example.com', PASSWORD);
    const after = await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => u.startsWith(SPA_REDIRECT));
    const tokens = await client.authorizationCodeGrant(config, new URL(after.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(decodeJwt(tokens.access_token).aud).toBe('searchapi');
    const r2 = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(r2.refresh_token).toBeTruthy();
    expect(r2.refresh_token).not.toBe(tokens.refresh_token);
  });
});

describe('hostile cases', () => {
  async function code(opts: { clientId?: string; verifier?: string; redirect?: string; scope?: string } = {}) {
    const verifier = opts.verifier ?? client.randomPKCECodeVerifier();
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: opts.clientId ?? 'backoffice',
      redirect_uri: opts.redirect ?? REDIRECT,
      scope: opts.scope ?? 'openid iam/',
      state: 'st',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { callback } = await signInAndGetCallback(new URL(`${env.base}/oauth2/authorize?${q}`));
    return { code: callback.searchParams.get('code'), error: callback.searchParams.get('error'), verifier, callback };
  }
  const exchange = (body: Record<string, string>, secret = 'b'.repeat(40)) =>
    fetch(`${env.base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`backoffice:${secret}`).toString('base64') },
      body: new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: REDIRECT, ...body }),
    });

  it('missing or wrong PKCE verifier → invalid_grant', async () => {
    const c1 = await code();
    expect(await json(await exchange({ code: c1.code! }))).toMatchObject({ error: 'invalid_grant' });
    const c2 = await code();
    expect(await json(await exchange({ code: c2.code!, code_verifier: client.randomPKCECodeVerifier() }))).toMatchObject({ error: 'invalid_grant' });
  });

  it('RFC 6749 §4.1.2: a reused code is refused and what the first use issued is revoked', async () => {
    const c = await code({ scope: 'openid offline_access iam/' });
    const first = await json(await exchange({ code: c.code!, code_verifier: c.verifier }));
    expect(first.access_token).toBeTruthy();
    const second = await exchange({ code: c.code!, code_verifier: c.verifier });
    expect(second.status).toBe(400);
    expect((await json(second)).error).toBe('invalid_grant');
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, insecure);
    expect(await client.tokenIntrospection(config, first.access_token)).toEqual({ active: false });
    expect(await client.tokenIntrospection(config, first.refresh_token)).toEqual({ active: false });
    // A security event: in the trail with the client, the address and the outcome.
    const trail = await api('GET', `/api/audit?action=oauth.code.replay&targetId=${userId}`);
    expect(trail.body.items[0]).toMatchObject({ actor: { type: 'client', id: 'backoffice' }, sourceIp: '127.0.0.1', after: { outcome: expect.stringContaining('revoked') } });
  });

  it('redirect_uri mismatch: at /authorize an error page (no redirect); at /token invalid_grant', async () => {
    const q = new URLSearchParams({ response_type: 'code', client_id: 'backoffice', redirect_uri: 'https://evil.example/callback', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const res = await fetch(`${env.base}/oauth2/authorize?${q}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    // A prefix or a trailing slash is not the same URI (exact matching).
    const res2 = await fetch(`${env.base}/oauth2/authorize?${new URLSearchParams({ ...Object.fromEntries(q), redirect_uri: REDIRECT + '/' })}`, { redirect: 'manual' });
    expect(res2.status).toBe(400);
    const c = await code();
    expect(await json(await exchange({ code: c.code!, code_verifier: c.verifier, redirect_uri: 'https://app.example.com/other' }))).toMatchObject({ error: 'invalid_grant' });
  });

  it('scope escalation at /authorize → invalid_scope back to the client', async () => {
    const c = await code({ scope: 'openid damapi/' });
    expect(c.error).toBe('invalid_scope');
    expect(c.callback.searchParams.get('state')).toBe('st');
  });

  it('a public client without PKCE → invalid_request', async () => {
    const q = new URLSearchParams({ response_type: 'code', client_id: 'spa', redirect_uri: SPA_REDIRECT, scope: 'openid', state: 's' });
    const res = await fetch(`${env.base}/oauth2/authorize?${q}`, { redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a code issued to one client is refused to another', async () => {
    expect((await api('PUT', '/api/downstream/InteractiveApplication/other-app', { displayName: 'Other', allowedScopes: ['openid', 'iam/'], redirectUris: [REDIRECT], clientSecret: 'o'.repeat(40) })).status).toBe(201);
    const c = await code();
    const res = await fetch(`${env.base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`other-app:${'o'.repeat(40)}`).toString('base64') },
      body: new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: REDIRECT, code: c.code!, code_verifier: c.verifier }),
    });
    expect((await json(res)).error).toBe('invalid_grant');
  });

  it('wrong, expired and deleted secrets; machine clients cannot use authorization_code', async () => {
    expect((await exchange({ code: 'x' }, 'wrong'.repeat(10))).status).toBe(401);
    const created = await api('POST', '/api/downstream/MachineClient/dam-sync/secrets', { description: 'short-lived', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect(created.status).toBe(201);
    const viaSecret = (secret: string) =>
      fetch(`${env.base}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`dam-sync:${secret}`).toString('base64') }, body: 'grant_type=client_credentials' });
    expect((await viaSecret(created.body.secret)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await viaSecret(created.body.secret)).status).toBe(401);
    const second = await api('POST', '/api/downstream/MachineClient/dam-sync/secrets', {});
    expect((await viaSecret(second.body.secret)).status).toBe(200);
    expect((await api('DELETE', `/api/downstream/MachineClient/dam-sync/secrets/${second.body.id}`)).status).toBe(204);
    // Deleted: refused at once (cache invalidated on commit).
    expect((await viaSecret(second.body.secret)).status).toBe(401);
    const ac = await fetch(`${env.base}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`dam-sync:${'s'.repeat(40)}`).toString('base64') }, body: 'grant_type=authorization_code&code=x' });
    expect((await json(ac)).error).toBe('unauthorized_client');
  });

  it('a deleted client’s tokens are inactive at once', async () => {
    expect((await api('PUT', '/api/downstream/MachineClient/temp', { displayName: 'T', allowedScopes: ['damapi/'], clientSecret: 't'.repeat(40) })).status).toBe(201);
    const config = await client.discovery(new URL(env.base), 'temp', 't'.repeat(40), undefined, insecure);
    const { access_token } = await client.clientCredentialsGrant(config);
    const introspector = await client.discovery(new URL(env.base), 'dam-sync', 's'.repeat(40), undefined, insecure);
    expect((await client.tokenIntrospection(introspector, access_token)).active).toBe(true);
    expect((await api('DELETE', '/api/downstream/MachineClient/temp')).status).toBe(204);
    expect(await client.tokenIntrospection(introspector, access_token)).toEqual({ active: false });
  });

  it('a deactivated user’s tokens are inactive and their refresh tokens refused', async () => {
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, insecure);
    const c = await code({ scope: 'openid offline_access iam/' });
    const tokens = await json(await exchange({ code: c.code!, code_verifier: c.verifier }));
    const scope = forTenant(env.database.db, env.tenant.tenant.id);
    const { setActive } = await import('../../src/users/service.ts');
    await setActive(scope, systemActor('test'), userId, false);
    try {
      expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
      await expect(client.refreshTokenGrant(config, tokens.refresh_token)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      await setActive(scope, systemActor('test'), userId, true);
    }
  });
});

describe('sessions: prompt, logout', () => {
  it('OIDC Core §3.1.2.1: prompt=none without a session → login_required; with one → a code without any page', async () => {
    const q = (extra: Record<string, string>) =>
      `${env.base}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'backoffice', redirect_uri: REDIRECT, scope: 'openid', state: 's1', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', ...extra })}`;
    const none = await fetch(q({ prompt: 'none' }), { redirect: 'manual' });
    const loc = new URL(none.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('login_required');
    expect(loc.searchParams.get('state')).toBe('s1');
    const { browser } = await signInAndGetCallback(new URL(q({})));
    const silent = await browser.request(q({ prompt: 'none' }));
    expect(new URL(silent.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  it('RP-initiated logout: ends the session; follows only a registered post_logout_redirect_uri', async () => {
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, insecure);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const { callback, browser } = await signInAndGetCallback(url);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: client.skipStateCheck });
    const oldCookie = browser.cookies.get('iam_session')!;
    const logout = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://app.example.com/bye', state: 'bye-state' });
    const res = await browser.request(logout.toString());
    expect(res.headers.get('location')).toBe('https://app.example.com/bye?state=bye-state');
    expect(browser.cookies.has('iam_session')).toBe(false);
    // The session is gone server-side too: replaying the old cookie value signs no one in.
    browser.cookies.set('iam_session', oldCookie);
    const again = await browser.request(url.toString());
    expect(again.headers.get('location')).toMatch(/^\/login\?/);
  });
});

describe('deactivation ends everything', () => {
  it('PATCH active:false ends the user’s sessions and revokes their refresh tokens in the same transaction', async () => {
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, insecure);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const { callback, browser } = await signInAndGetCallback(url);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: client.skipStateCheck });
    expect((await api('PATCH', `/api/users/${userId}`, { active: false })).status).toBe(200);
    try {
      const { refreshTokens, sessions } = await import('../../src/db/schema/index.ts');
      const { eq } = await import('drizzle-orm');
      const scope = forTenant(env.database.db, env.tenant.tenant.id);
      expect((await scope.select(sessions, eq(sessions.userId, userId))).every((s) => s.endedAt !== null)).toBe(true);
      expect((await scope.select(refreshTokens, eq(refreshTokens.userId, userId))).every((r) => r.revokedAt !== null)).toBe(true);
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      expect((await api('PATCH', `/api/users/${userId}`, { active: true })).status).toBe(200);
    }
    // Reactivated, the old session does not come back.
    const after = await browser.request(url.toString());
    expect(after.headers.get('location')).toMatch(/^\/login\?/);
  });
});
