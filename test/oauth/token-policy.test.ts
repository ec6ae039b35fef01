/**
 * Tokens follow policy (issue #9 item 3): what a refresh issues is re-read from today's client and user; a deleted
 * client, a password change, a sign-out everywhere and a deactivation leave nothing alive that predates them.
 * Real clients (openid-client) over loopback, as a relying party would see it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { forTenant } from '../../src/platform/db.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let admin: string;
const REDIRECT = 'https://app.example.com/callback';
const PASSWORD = 'correct horse battery staple';
const SECRET = 'p'.repeat(40);
const insecure = { execute: [client.allowInsecureRequests] };

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
}

const app = (clientId: string, allowedScopes: string[]) =>
  api('PUT', `/api/downstream/InteractiveApplication/${clientId}`, { displayName: clientId, allowedScopes, redirectUris: [REDIRECT], clientSecret: SECRET });

async function newUser(): Promise<{ id: string; email: string }> {
  const email = `u-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const user = await createUser(forTenant(env.database.db, env.tenant.tenant.id), systemActor('test'), { email, emailVerified: true, password: PASSWORD });
  return { id: user.id, email };
}

/** The authorization code flow through /login, as a browser does it; returns the tokens and the browser (its session). */
async function signIn(clientId: string, user: { email: string }, scope: string, browser = new Browser()) {
  const config = await client.discovery(new URL(env.base), clientId, SECRET, undefined, insecure);
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'st' });
  let { url: target } = await browser.follow(url.toString(), (u) => u.startsWith('https://'));
  if (target.includes('/login')) {
    const posted = await browser.signIn(target, user.email, PASSWORD);
    expect(posted.status).toBe(303);
    target = (await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => u.startsWith('https://'))).url;
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(target), { pkceCodeVerifier: verifier, expectedState: 'st' });
  return { config, tokens, browser };
}

/** Whether the browser still has a session: prompt=none answers a code only then (OIDC Core §3.1.2.1). */
async function hasSession(browser: Browser, clientId: string): Promise<boolean> {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid', state: 's', prompt: 'none', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  const res = await browser.request(`${env.base}/oauth2/authorize?${q}`);
  return new URL(res.headers.get('location')!).searchParams.has('code');
}

let introspector: client.Configuration;
const active = async (token: string) => (await client.tokenIntrospection(introspector, token)).active;

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  expect((await api('PUT', '/api/downstream/MachineClient/introspector', { displayName: 'RS', allowedScopes: ['damapi/'], clientSecret: SECRET })).status).toBe(201);
  introspector = await client.discovery(new URL(env.base), 'introspector', SECRET, undefined, insecure);
});
afterAll(() => env.close());

describe('a refresh issues what today’s policy allows', () => {
  it('scopes the client lost are not re-issued; losing offline_access ends the grant', async () => {
    expect((await app('shrinking', ['openid', 'offline_access', 'damapi/', 'searchapi/'])).status).toBe(201);
    const user = await newUser();
    const { config, tokens } = await signIn('shrinking', user, 'openid offline_access damapi/ searchapi/');
    expect(tokens.scope).toBe('openid offline_access damapi/ searchapi/');
    expect((await app('shrinking', ['openid', 'offline_access', 'damapi/'])).status).toBe(200);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.scope).toBe('openid offline_access damapi/');
    expect(decodeJwt(refreshed.access_token).aud).toBe('damapi');
    // The successor keeps the narrowed grant, not the original one.
    const again = await client.refreshTokenGrant(config, refreshed.refresh_token!);
    expect(again.scope).toBe('openid offline_access damapi/');
    expect((await app('shrinking', ['openid', 'damapi/'])).status).toBe(200);
    await expect(client.refreshTokenGrant(config, again.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('RFC 9700 §4.14.2: refresh-token reuse revokes the family and is an audit entry', async () => {
    expect((await app('reuse-app', ['openid', 'offline_access'])).status).toBe(201);
    const user = await newUser();
    const { config, tokens } = await signIn('reuse-app', user, 'openid offline_access');
    const next = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(config, next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const trail = await api('GET', `/api/audit?action=oauth.refresh.reuse&targetId=${user.id}`);
    expect(trail.body.items).toHaveLength(1);
    expect(trail.body.items[0]).toMatchObject({ actor: { type: 'client', id: 'reuse-app' }, target: { type: 'user', id: user.id }, sourceIp: '127.0.0.1' });
  });
});

describe('a deleted client leaves nothing alive', () => {
  it('its refresh tokens die, and re-creating it under the same id revives no token', async () => {
    expect((await app('ephemeral', ['openid', 'offline_access', 'damapi/'])).status).toBe(201);
    const user = await newUser();
    const { config, tokens } = await signIn('ephemeral', user, 'openid offline_access damapi/');
    expect(await active(tokens.access_token)).toBe(true);
    expect((await api('DELETE', '/api/downstream/InteractiveApplication/ephemeral')).status).toBe(204);
    expect(await active(tokens.access_token)).toBe(false);
    // Same id, same secret: a new client instance.
    expect((await app('ephemeral', ['openid', 'offline_access', 'damapi/'])).status).toBe(201);
    expect(await active(tokens.access_token)).toBe(false);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The new instance works.
    const fresh = await signIn('ephemeral', user, 'openid damapi/');
    expect(await active(fresh.tokens.access_token)).toBe(true);
  });
});

describe('what ends a user’s sessions and tokens', () => {
  it('a password change by an administrator ends every session and refresh token', async () => {
    expect((await app('pw-app', ['openid', 'offline_access'])).status).toBe(201);
    const user = await newUser();
    const { config, tokens, browser } = await signIn('pw-app', user, 'openid offline_access');
    expect(await hasSession(browser, 'pw-app')).toBe(true);
    expect((await api('PATCH', `/api/users/${user.id}`, { password: 'a brand new passphrase 42' })).status).toBe(200);
    expect(await hasSession(browser, 'pw-app')).toBe(false);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('POST /api/users/{id}/sessions/revoke signs the user out everywhere; a new sign-in works', async () => {
    expect((await app('everywhere', ['openid', 'offline_access'])).status).toBe(201);
    const user = await newUser();
    const one = await signIn('everywhere', user, 'openid offline_access');
    const two = await signIn('everywhere', user, 'openid offline_access');
    const res = await api('POST', `/api/users/${user.id}/sessions/revoke`);
    expect(res.status).toBe(200);
    for (const s of [one, two]) {
      expect(await hasSession(s.browser, 'everywhere')).toBe(false);
      expect(await active(s.tokens.access_token)).toBe(false);
      await expect(client.refreshTokenGrant(s.config, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    }
    const trail = await api('GET', `/api/audit?action=user.sessions.revoke&targetId=${user.id}`);
    expect(trail.body.items).toHaveLength(1);
    // The cutoff is behind us: tokens from a sign-in right after it are alive.
    const three = await signIn('everywhere', user, 'openid offline_access');
    expect(await active(three.tokens.access_token)).toBe(true);
    expect((await client.refreshTokenGrant(three.config, three.tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('deactivation sets a cutoff: access tokens from before it stay dead after reactivation', async () => {
    expect((await app('cutoff-app', ['openid'])).status).toBe(201);
    const user = await newUser();
    const before = await signIn('cutoff-app', user, 'openid');
    expect(await active(before.tokens.access_token)).toBe(true);
    expect((await api('PATCH', `/api/users/${user.id}`, { active: false })).status).toBe(200);
    expect((await api('PATCH', `/api/users/${user.id}`, { active: true })).status).toBe(200);
    expect(await active(before.tokens.access_token)).toBe(false);
    const after = await signIn('cutoff-app', user, 'openid');
    expect(await active(after.tokens.access_token)).toBe(true);
  });
});
