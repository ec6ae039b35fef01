/**
 * `active: false` through SCIM, end to end over loopback: the user signs in and gets tokens, the IdP deactivates them,
 * and then their access token introspects inactive, their refresh token is refused, their session has ended, and
 * they cannot sign in again. Reactivation lets them sign in again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { and, eq, isNull } from 'drizzle-orm';
import { forTenant } from '../../src/platform/db.ts';
import { refreshTokens, sessions } from '../../src/db/schema/index.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let scimToken: string;
const REDIRECT = 'https://app.example.com/callback';
const PASSWORD = 'correct horse battery staple';

async function call(method: string, path: string, token: string, body?: unknown, type = 'application/json') {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': type } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
}

beforeAll(async () => {
  env = await listeningEnv();
  const admin = await bootstrapTokenHttp(env.base, env.tenant);
  expect((await call('PUT', '/api/downstream/MachineClient/entra', admin, { displayName: 'Entra ID provisioning', allowedScopes: ['scim.read', 'scim.write'], clientSecret: 'e'.repeat(40) })).status).toBe(201);
  expect(
    (await call('PUT', '/api/downstream/InteractiveApplication/portal', admin, {
      displayName: 'Portal',
      allowedScopes: ['openid', 'offline_access', 'iam/'],
      redirectUris: [REDIRECT],
      clientSecret: 'p'.repeat(40),
    })).status,
  ).toBe(201);
  // Bizagi's flow: client_credentials with HTTP Basic.
  const tok = await fetch(`${env.base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`entra:${'e'.repeat(40)}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=scim.read%20scim.write',
  });
  scimToken = ((await tok.json()) as { access_token: string }).access_token;
});
afterAll(() => env.close());

async function signIn(login: string) {
  const verifier = client.randomPKCECodeVerifier();
  const q = new URLSearchParams({ response_type: 'code', client_id: 'portal', redirect_uri: REDIRECT, scope: 'openid offline_access', state: 's', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const browser = new Browser();
  const first = await browser.follow(`${env.base}/oauth2/authorize?${q}`, (u) => u.startsWith('https://'));
  const posted = await browser.signIn(first.url, login, PASSWORD);
  if (posted.status !== 303) return undefined;
  const after = await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => !u.startsWith(env.base));
  const code = new URL(after.url).searchParams.get('code');
  if (!code) return undefined;
  const res = await fetch(`${env.base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`portal:${'p'.repeat(40)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  return (await res.json()) as { access_token: string; refresh_token: string };
}

const introspect = async (token: string) =>
  (await (
    await fetch(`${env.base}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`portal:${'p'.repeat(40)}`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    })
  ).json()) as { active: boolean };

const refresh = async (token: string) =>
  fetch(`${env.base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`portal:${'p'.repeat(40)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });

describe('active=false (STACKIT: "deactivated users are automatically logged out, and all their access tokens are revoked")', () => {
  it('ends sessions, revokes refresh tokens, makes access tokens introspect inactive and blocks sign-in; reactivation restores sign-in', async () => {
    const created = await call('POST', '/scim/v2/Users', scimToken, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'leaver@example.com', password: PASSWORD, emails: [{ value: 'leaver@example.com', type: 'work', primary: true }] }, 'application/scim+json');
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const tokens = await signIn('leaver@example.com');
    expect(tokens?.refresh_token).toBeTruthy();
    expect((await introspect(tokens!.access_token)).active).toBe(true);
    const scope = forTenant(env.database.db, env.tenant.tenant.id);
    expect(await scope.select(sessions, and(eq(sessions.userId, id), isNull(sessions.endedAt)))).toHaveLength(1);

    // Entra ID's request, booleans as strings.
    const off = await call('PATCH', `/scim/v2/Users/${id}`, scimToken, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }, 'application/scim+json');
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);

    expect(await introspect(tokens!.access_token)).toEqual({ active: false });
    expect((await refresh(tokens!.refresh_token)).status).toBe(400);
    expect(await scope.select(sessions, and(eq(sessions.userId, id), isNull(sessions.endedAt)))).toHaveLength(0);
    expect(await scope.select(refreshTokens, and(eq(refreshTokens.userId, id), isNull(refreshTokens.revokedAt)))).toHaveLength(0);
    expect(await signIn('leaver@example.com')).toBeUndefined();
    // Still returned while inactive (Entra ID: only a hard delete removes it).
    expect((await call('GET', `/scim/v2/Users/${id}`, scimToken)).body.active).toBe(false);

    const on = await call('PATCH', `/scim/v2/Users/${id}`, scimToken, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: true } }] }, 'application/scim+json');
    expect(on.body.active).toBe(true);
    expect((await signIn('leaver@example.com'))?.access_token).toBeTruthy();
  });
});
