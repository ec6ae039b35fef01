/**
 * Upstream sign-in against real OpenID Providers on loopback (oidc-provider playing Entra ID, Google and Auth0),
 * through our real HTTP surface, ending with a downstream application holding tokens that open /api.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

let env: ListeningEnv;
let admin: string;
let entra: UpstreamIdp;
let google: UpstreamIdp;
let auth0: UpstreamIdp;
const TID = '11111111-2222-3333-4444-555555555555';
const APP_REDIRECT = 'https://backoffice.example.com/signin-oidc';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  entra = await startUpstreamIdp({ kind: 'entra', tid: TID, redirectUris: [`${env.base}/signin-azureadcontoso`, `${env.base}/signin-azureadmulti`] });
  google = await startUpstreamIdp({ kind: 'google', redirectUris: [`${env.base}/signin-googlegws`] });
  auth0 = await startUpstreamIdp({ kind: 'auth0', redirectUris: [`${env.base}/signin-auth0main`] });
  const put = async (path: string, body: unknown) => {
    const r = await api("PUT", path, body);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  };
  await put('/api/upstream/AzureAd/contoso', { displayName: 'Contoso Entra ID', clientId: entra.clientId, clientSecret: entra.clientSecret, tenantId: TID, trustAllUsers: false, defaultUserRoles: [], discoveryUrl: entra.discoveryUrl, domains: ['contoso.com'] });
  await put('/api/upstream/AzureAd/multi', { displayName: 'Any Entra tenant', clientId: entra.clientId, clientSecret: entra.clientSecret, tenantId: 'organizations', trustAllUsers: true, defaultUserRoles: [], discoveryUrl: entra.multiTenantDiscoveryUrl });
  await put('/api/upstream/Google/gws', { displayName: 'Google Workspace', clientId: google.clientId, clientSecret: google.clientSecret, hostedDomain: 'fabrikam.com', trustAllUsers: true, defaultUserRoles: [], discoveryUrl: google.discoveryUrl });
  await put('/api/upstream/Auth0/main', { displayName: 'Auth0', domain: 'example.eu.auth0.com', clientId: auth0.clientId, clientSecret: auth0.clientSecret, trustAllUsers: false, defaultUserRoles: [], discoveryUrl: auth0.discoveryUrl });
  await put('/api/downstream/InteractiveApplication/backoffice', { displayName: 'Back office', allowedScopes: ['openid', 'profile', 'email', 'iam/'], redirectUris: [APP_REDIRECT], clientSecret: 'b'.repeat(40) });
});
afterAll(async () => {
  await Promise.all([entra?.close(), google?.close(), auth0?.close()]);
  await env.close();
});

/** Starts at our login, clicks the provider, and returns where the browser ends up on our side. */
async function signInVia(browser: Browser, startPath: string): Promise<{ url: string; res: Response }> {
  return browser.follow(`${env.base}${startPath}`, (u) => u.startsWith('https://'));
}

describe('first-admin story through Entra ID', () => {
  it('trustAllUsers=false: an unknown account is refused; the admin created through /api signs in and reaches /api', async () => {
    entra.nextLogin({ sub: 'entra-stranger', email: 'stranger@contoso.com', email_verified: true, tid: TID, name: 'Stranger' });
    const refused = await signInVia(new Browser(), '/login/upstream/AzureAd/contoso?return_to=/');
    expect(refused.res.status).toBe(403);
    expect(await refused.res.text()).toContain('not allowed');
    const trail = await api('GET', '/api/audit?action=signin.failure&targetId=AzureAd/contoso');
    expect(trail.body.items[0]).toMatchObject({ actor: { type: 'system', id: 'upstream:AzureAd:contoso' }, after: { outcome: 'not admitted', reason: 'not-allowed', subject: 'entra-stranger' } });

    const created = await api('POST', '/api/users', { email: 'admin@contoso.com', fullName: 'Ada Admin' });
    expect(created.status).toBe(201);
    expect((await api('POST', `/api/users/${created.body.id}/roles`, { roles: ['admin'] })).status).toBeLessThan(300);

    // The downstream app asks for sign-in; login_hint routes to Contoso's Entra ID (home-realm discovery).
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: APP_REDIRECT, scope: 'openid profile email iam/', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, login_hint: 'admin@contoso.com' });
    entra.nextLogin({ sub: 'entra-admin', email: 'admin@contoso.com', email_verified: true, tid: TID, name: 'Ada Admin' });
    const browser = new Browser();
    const done = await browser.follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
    expect(done.url.startsWith(APP_REDIRECT)).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ sub: created.body.id, email: 'admin@contoso.com', roles: ['admin'], tid: env.tenant.tenant.id });
    // The admin's own access token opens /api.
    const users = await fetch(`${env.base}/api/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(users.status).toBe(200);
    // The identity is now linked: the next sign-in finds the user by subject even if the email changed.
    const linked = await api('GET', `/api/users/${created.body.id}/identities`);
    expect(linked.status).toBe(200);
    expect(linked.body).toEqual([expect.objectContaining({ providerType: 'AzureAd', providerId: 'contoso', subject: 'entra-admin' })]);
    // …and listed on the user itself.
    expect((await api('GET', `/api/users/${created.body.id}`)).body.identities).toEqual(linked.body);
    // Unlinking keeps the user and is audited.
    expect((await api('DELETE', `/api/users/${created.body.id}/identities/AzureAd/contoso/entra-admin`)).status).toBe(204);
    expect((await api('GET', `/api/users/${created.body.id}/identities`)).body).toEqual([]);
  });

  it('a user without admin gets 403 at /api with their own token', async () => {
    const created = await api('POST', '/api/users', { email: 'viewer@contoso.com', fullName: 'Vic Viewer' });
    entra.nextLogin({ sub: 'entra-viewer', email: 'viewer@contoso.com', email_verified: true, tid: TID });
    const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: APP_REDIRECT, scope: 'openid iam/', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', connection_id: 'AzureAd:contoso' });
    const done = await new Browser().follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: client.skipStateCheck });
    expect(decodeJwt(tokens.access_token).sub).toBe(created.body.id);
    expect((await fetch(`${env.base}/api/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(403);
  });
});

describe('who gets in', () => {
  it('an unverified email never matches an existing user', async () => {
    await api('POST', '/api/users', { email: 'victim@contoso.com', fullName: 'Victim' });
    entra.nextLogin({ sub: 'attacker', email: 'victim@contoso.com', email_verified: false, tid: TID });
    const res = await signInVia(new Browser(), '/login/upstream/AzureAd/contoso?return_to=/');
    expect(res.res.status).toBe(403);
  });

  it('trustAllUsers=true creates the user on first sign-in with the default roles; a deactivated user never gets in', async () => {
    google.nextLogin({ sub: 'g-1', email: 'new@fabrikam.com', email_verified: true, hd: 'fabrikam.com', name: 'New Person' });
    const browser = new Browser();
    const res = await signInVia(browser, '/login/upstream/Google/gws?return_to=/');
    expect(res.res.status).toBe(200);
    expect(await res.res.text()).toContain('Signed in as New Person');
    const list = await api('GET', '/api/users?email=new@fabrikam.com');
    const user = list.body.items[0];
    expect(user).toMatchObject({ email: 'new@fabrikam.com' });
    expect((await api('PATCH', `/api/users/${user.id}`, { active: false })).status).toBe(200);
    // Their existing session ended, and a new sign-in is refused.
    const home = await browser.request(`${env.base}/`);
    expect(home.status).toBe(303);
    google.nextLogin({ sub: 'g-1', email: 'new@fabrikam.com', email_verified: true, hd: 'fabrikam.com' });
    const again = await signInVia(new Browser(), '/login/upstream/Google/gws?return_to=/');
    expect(again.res.status).toBe(403);
    expect(await again.res.text()).toContain('disabled');
  });

  it('Google: an account outside the hosted domain is refused', async () => {
    google.nextLogin({ sub: 'g-2', email: 'someone@gmail.com', email_verified: true, name: 'Gmail User' });
    const res = await signInVia(new Browser(), '/login/upstream/Google/gws?return_to=/');
    expect(res.res.status).toBe(400);
    expect(await res.res.text()).toContain('not part of this organization');
  });

  it('Entra ID multi-tenant: the {tenantid} issuer template is resolved from tid, and the user admitted', async () => {
    entra.nextLogin({ sub: 'mt-1', email: 'x@tailspin.com', email_verified: true, tid: TID, name: 'Multi Tenant' });
    const res = await signInVia(new Browser(), '/login/upstream/AzureAd/multi?return_to=/');
    expect(res.res.status, env.logs.filter((l) => l.includes('rejected')).join('\n')).toBe(200);
  });

  it('Entra ID single-tenant: a token from another tenant (tid) is refused', async () => {
    const other = await startUpstreamIdp({ kind: 'entra', tid: '99999999-2222-3333-4444-555555555555', redirectUris: [`${env.base}/signin-azureadwrongtid`] });
    try {
      await api('PUT', '/api/upstream/AzureAd/wrongtid', { displayName: 'Wrong', clientId: other.clientId, clientSecret: other.clientSecret, tenantId: TID, trustAllUsers: true, defaultUserRoles: [], discoveryUrl: other.discoveryUrl });
      other.nextLogin({ sub: 'w-1', email: 'w@contoso.com', email_verified: true, tid: '99999999-2222-3333-4444-555555555555' });
      const res = await signInVia(new Browser(), '/login/upstream/AzureAd/wrongtid?return_to=/');
      expect(res.res.status).toBe(400);
      expect(await res.res.text()).toContain('another organization');
    } finally {
      await other.close();
    }
  });

  it('access denied at the provider shows a clear page', async () => {
    auth0.nextLogin('deny');
    const res = await signInVia(new Browser(), '/login/upstream/Auth0/main?return_to=/');
    expect(res.res.status).toBe(400);
    expect(await res.res.text()).toContain('cancelled');
  });
});

describe('hostile cases', () => {
  it('state mismatch: a callback with someone else’s state is refused', async () => {
    auth0.nextLogin({ sub: 'a-1', email: 'a@example.com', email_verified: true });
    const victim = new Browser();
    const start = await victim.request(`${env.base}/login/upstream/Auth0/main?return_to=/`);
    expect(start.status).toBe(303);
    // The attacker's own completed callback URL (their code, their state) replayed into the victim's browser.
    const attacker = new Browser();
    const a = await attacker.follow(`${env.base}/login/upstream/Auth0/main?return_to=/`, (u) => u.includes('/signin-auth0main'));
    const res = await victim.request(a.url);
    expect(res.status).toBe(400);
  });

  it('an unsolicited (IdP-initiated) callback is never a login: it restarts as an SP-initiated flow', async () => {
    const browser = new Browser();
    const res = await browser.request(`${env.base}/signin-auth0main?code=forged&state=forged`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/login\/upstream\/Auth0\/main\?/);
    expect(browser.cookies.has('iam_session')).toBe(false);
    // A second unsolicited callback in a row is refused outright (no redirect loop).
    expect((await browser.request(`${env.base}/signin-auth0main?code=forged&state=forged`)).status).toBe(400);
  });

  it('expired ID token is refused', async () => {
    const stale = await startUpstreamIdp({ kind: 'auth0', redirectUris: [`${env.base}/signin-auth0stale`], mutateIdToken: (c) => ({ ...c, iat: c.iat! - 7200, exp: c.iat! - 3600 }) });
    try {
      await api('PUT', '/api/upstream/Auth0/stale', { displayName: 'Stale', domain: 'stale.auth0.com', clientId: stale.clientId, clientSecret: stale.clientSecret, trustAllUsers: true, defaultUserRoles: [], discoveryUrl: stale.discoveryUrl });
      stale.nextLogin({ sub: 's-1', email: 's@example.com', email_verified: true });
      const res = await signInVia(new Browser(), '/login/upstream/Auth0/stale?return_to=/');
      expect(res.res.status).toBe(400);
    } finally {
      await stale.close();
    }
  });

  it('nonce replay: an ID token carrying another transaction’s nonce is refused', async () => {
    const replaying = await startUpstreamIdp({ kind: 'auth0', redirectUris: [`${env.base}/signin-auth0replay`], mutateIdToken: (c) => ({ ...c, nonce: 'nonce-from-an-earlier-sign-in' }) });
    try {
      await api('PUT', '/api/upstream/Auth0/replay', { displayName: 'Replay', domain: 'replay.auth0.com', clientId: replaying.clientId, clientSecret: replaying.clientSecret, trustAllUsers: true, defaultUserRoles: [], discoveryUrl: replaying.discoveryUrl });
      replaying.nextLogin({ sub: 'r-1', email: 'r@example.com', email_verified: true });
      const res = await signInVia(new Browser(), '/login/upstream/Auth0/replay?return_to=/');
      expect(res.res.status).toBe(400);
      expect(env.logs.some((l) => l.includes('nonce'))).toBe(true);
    } finally {
      await replaying.close();
    }
  });

  it('wrong issuer: metadata from one provider, tokens from another, is refused', async () => {
    const impostor = await startUpstreamIdp({ kind: 'auth0', redirectUris: [`${env.base}/signin-auth0mixup`] });
    try {
      // Discovery claims the impostor's issuer but we point the provider at auth0's endpoints through a doc whose
      // issuer differs from the tokens' iss.
      const doc = (await (await fetch(auth0.discoveryUrl)).json()) as Record<string, unknown>;
      const srv = await import('node:http');
      const server = srv.createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ...doc, issuer: impostor.issuer }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      try {
        await api('PUT', '/api/upstream/Auth0/mixup', { displayName: 'Mixup', domain: 'mixup.auth0.com', clientId: auth0.clientId, clientSecret: auth0.clientSecret, trustAllUsers: true, defaultUserRoles: [], discoveryUrl: `http://127.0.0.1:${port}/.well-known/openid-configuration` });
        auth0.nextLogin({ sub: 'm-1', email: 'm@example.com', email_verified: true });
        const res = await signInVia(new Browser(), '/login/upstream/Auth0/mixup?return_to=/');
        expect(res.res.status).toBe(400);
      } finally {
        server.close();
      }
    } finally {
      await impostor.close();
    }
  });

  it('open redirects: return_to and post_logout_redirect_uri only go where they may', async () => {
    for (const evil of ['https://evil.example', '//evil.example', '/\\evil.example']) {
      const page = await fetch(`${env.base}/login?return_to=${encodeURIComponent(evil)}`);
      expect(await page.text()).toContain('name="return_to" value="/"');
    }
    const res = await fetch(`${env.base}/oauth2/logout?post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}&client_id=backoffice`, { redirect: 'manual' });
    expect(res.headers.get('location')).toBe('/signed-out');
  });

  it('session fixation: a session cookie planted before sign-in is replaced', async () => {
    auth0.nextLogin({ sub: 'fix-1', email: 'fix@example.com', email_verified: true });
    expect((await api('POST', '/api/users', { email: 'fix@example.com', fullName: 'Fix' })).status).toBe(201);
    const browser = new Browser();
    browser.cookies.set('iam_session', 'attacker-chosen-value-0123456789abcdefghijk');
    const res = await signInVia(browser, '/login/upstream/Auth0/main?return_to=/');
    expect(res.res.status).toBe(200);
    expect(browser.cookies.get('iam_session')).not.toBe('attacker-chosen-value-0123456789abcdefghijk');
  });
});
