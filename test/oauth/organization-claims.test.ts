/**
 * Organization context in user tokens (ADR 0009, issue #11 item 2), driven by openid-client over loopback with a
 * signed-in browser session: `organization_id` at /authorize, `org_id` and `org_roles` in the ID token, access
 * token, userinfo, refreshed tokens and introspection; membership required, re-read at refresh.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { createOrganization } from '../../src/organizations/service.ts';
import { forTenant } from '../../src/platform/db.ts';
import { resumeInOrganization } from '../../src/signin/organization-resume.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let admin: string;
let config: client.Configuration;
let userId: string;
let orgA: string;
let orgB: string;
const REDIRECT = 'https://app.example.com/callback';
const PASSWORD = 'correct horse battery staple';
const insecure = { execute: [client.allowInsecureRequests] };

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
}

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  expect(
    (await api('PUT', '/api/downstream/InteractiveApplication/portal', {
      displayName: 'Portal',
      allowedScopes: ['openid', 'profile', 'email', 'offline_access'],
      redirectUris: [REDIRECT],
      clientSecret: 'p'.repeat(40),
    })).status,
  ).toBe(201);
  userId = (await createUser(forTenant(env.database.db, env.tenant.tenant.id), systemActor('test'), { email: 'grace@example.com', displayName: 'Grace', emailVerified: true, password: PASSWORD })).id;
  orgA = (await api('POST', '/api/organizations', { displayName: 'A' })).body.id;
  orgB = (await api('POST', '/api/organizations', { displayName: 'B' })).body.id;
  expect((await api('PUT', `/api/organizations/${orgA}/members/${userId}`, { roles: ['editor'] })).status).toBe(201);
  config = await client.discovery(new URL(env.base), 'portal', 'p'.repeat(40), undefined, insecure);
});
afterAll(() => env.close());

/** Runs /authorize (signing in when the browser has no session) and returns the callback. */
async function authorize(extra: Record<string, string>, browser = new Browser()) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid profile offline_access', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...extra });
  let { url: target } = await browser.follow(url.toString(), (u) => u.startsWith('https://'));
  if (target.includes('/login')) {
    const posted = await browser.signIn(target, 'grace@example.com', PASSWORD);
    expect(posted.status).toBe(303);
    target = (await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => !u.startsWith(env.base))).url;
  }
  return { callback: new URL(target), verifier, state, browser };
}

async function tokensIn(organizationId?: string, browser?: Browser) {
  const { callback, verifier, state } = await authorize(organizationId ? { organization_id: organizationId } : {}, browser);
  expect(callback.searchParams.get('error')).toBeNull();
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
}

describe('authorization requests with organization_id', () => {
  it('a member gets org_id and org_roles in the ID token, access token, userinfo and introspection', async () => {
    const tokens = await tokensIn(orgA);
    expect(tokens.claims()).toMatchObject({ sub: userId, org_id: orgA, org_roles: ['editor'] });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: userId, org_id: orgA, org_roles: ['editor'] });
    expect(await client.fetchUserInfo(config, tokens.access_token, userId)).toMatchObject({ sub: userId, org_id: orgA, org_roles: ['editor'] });
    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, org_id: orgA });
    expect(await client.tokenIntrospection(config, tokens.refresh_token!)).toMatchObject({ active: true, org_id: orgA });
  });

  it('outside an organization the tokens carry neither claim', async () => {
    const tokens = await tokensIn();
    for (const claims of [tokens.claims()!, decodeJwt(tokens.access_token), await client.fetchUserInfo(config, tokens.access_token, userId)]) {
      expect(claims).not.toHaveProperty('org_id');
      expect(claims).not.toHaveProperty('org_roles');
    }
    expect(await client.tokenIntrospection(config, tokens.access_token)).not.toHaveProperty('org_id');
  });

  it('a non-member is sent back with access_denied (RFC 6749 §4.1.2.1), with state', async () => {
    const { callback, state } = await authorize({ organization_id: orgB });
    expect(callback.origin + callback.pathname).toBe(REDIRECT);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('an unknown, malformed or other tenant’s organization is invalid_request before any sign-in', async () => {
    const elsewhere = await env.newTenant();
    const foreign = await createOrganization(forTenant(env.database.db, elsewhere.tenant.id), systemActor('test'), { displayName: 'Elsewhere' });
    for (const id of [foreign.id, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const { callback } = await authorize({ organization_id: id });
      expect(callback.searchParams.get('error'), id).toBe('invalid_request');
    }
  });

  it('an existing session is reused: the membership is checked without signing in again', async () => {
    const first = await authorize({});
    const again = await authorize({ organization_id: orgA }, first.browser);
    expect(again.callback.searchParams.get('code')).toBeTruthy();
    const denied = await authorize({ organization_id: orgB }, first.browser);
    expect(denied.callback.searchParams.get('error')).toBe('access_denied');
  });
});

describe('refresh in an organization', () => {
  it('re-reads the roles; a removed membership fails the refresh with invalid_grant and ends userinfo', async () => {
    const tokens = await tokensIn(orgA);
    expect((await api('PUT', `/api/organizations/${orgA}/members/${userId}`, { roles: ['owner', 'editor'] })).status).toBe(200);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(decodeJwt(refreshed.access_token)).toMatchObject({ org_id: orgA, org_roles: ['editor', 'owner'] });
    expect(refreshed.claims()).toMatchObject({ org_id: orgA, org_roles: ['editor', 'owner'] });

    expect((await api('DELETE', `/api/organizations/${orgA}/members/${userId}`)).status).toBe(204);
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The family is revoked, not just refused this once.
    expect(await client.tokenIntrospection(config, refreshed.refresh_token!)).toEqual({ active: false });
    await expect(client.fetchUserInfo(config, refreshed.access_token, userId)).rejects.toThrow();
    // Tokens outside the organization are untouched.
    const plain = await tokensIn();
    expect((await client.refreshTokenGrant(config, plain.refresh_token!)).access_token).toBeTruthy();
    expect((await api('PUT', `/api/organizations/${orgA}/members/${userId}`, { roles: ['editor'] })).status).toBe(201);
  });

  it('a membership removed between /authorize and the code redemption fails the redemption', async () => {
    const { callback, verifier, state } = await authorize({ organization_id: orgA });
    expect((await api('DELETE', `/api/organizations/${orgA}/members/${userId}`)).status).toBe(204);
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api('PUT', `/api/organizations/${orgA}/members/${userId}`, { roles: ['editor'] })).status).toBe(201);
  });
});

describe('resumeInOrganization (the sign-in flow’s hook)', () => {
  it('adds organization_id to the resumed authorization request, keeping one the client sent', () => {
    expect(resumeInOrganization('/oauth2/authorize?client_id=portal&state=s', orgA)).toBe(`/oauth2/authorize?client_id=portal&state=s&organization_id=${orgA}`);
    expect(resumeInOrganization(`/oauth2/authorize?organization_id=${orgB}`, orgA)).toBe(`/oauth2/authorize?organization_id=${orgB}`);
  });

  it('a sign-in resumed through it yields tokens in that organization', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'x' });
    const browser = new Browser();
    await authorize({}, browser);
    const resumed = resumeInOrganization(url.pathname + url.search, orgA);
    const { url: target } = await browser.follow(env.base + resumed, (u) => u.startsWith('https://'));
    const tokens = await client.authorizationCodeGrant(config, new URL(target), { pkceCodeVerifier: verifier, expectedState: 'x' });
    expect(decodeJwt(tokens.access_token).org_id).toBe(orgA);
  });
});
