/**
 * Password changes through SCIM follow a tenant setting (issue #10 item 9), and what discovery says follows it too:
 * off (the default, STACKIT's documented behaviour): `/ServiceProviderConfig` changePassword false, `/Schemas`
 * password immutable, PUT/PATCH of a password 400 mutability. On: changePassword true, password writeOnly (RFC 7643 §7
 * "may be updated at any time"), the new password is hashed, and the user's sessions and refresh tokens end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { and, eq, isNull } from 'drizzle-orm';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents, refreshTokens, sessions, users } from '../../src/db/schema/index.ts';
import { verifyPassword } from '../../src/users/password.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';

let env: ListeningEnv;
let scimToken: string;
let admin: string;
const REDIRECT = 'https://app.example.com/callback';
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

async function call(method: string, path: string, token: string | undefined, body?: unknown, type = 'application/json') {
  const res = await fetch(env.base + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': type } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
}

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  expect((await call('PUT', '/api/downstream/MachineClient/okta', admin, { displayName: 'Okta provisioning', allowedScopes: ['scim.read', 'scim.write'], clientSecret: 'o'.repeat(40) })).status).toBe(201);
  expect((await call('PUT', '/api/downstream/InteractiveApplication/portal', admin, { displayName: 'Portal', allowedScopes: ['openid', 'offline_access'], redirectUris: [REDIRECT], clientSecret: 'p'.repeat(40) })).status).toBe(201);
  const tok = await fetch(`${env.base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`okta:${'o'.repeat(40)}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=scim.read%20scim.write',
  });
  scimToken = ((await tok.json()) as { access_token: string }).access_token;
});
afterAll(() => env.close());

async function signIn(login: string, password: string) {
  const verifier = client.randomPKCECodeVerifier();
  const q = new URLSearchParams({ response_type: 'code', client_id: 'portal', redirect_uri: REDIRECT, scope: 'openid offline_access', state: 's', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const browser = new Browser();
  const first = await browser.follow(`${env.base}/oauth2/authorize?${q}`, (u) => u.startsWith('https://'));
  const posted = await browser.signIn(first.url, login, password);
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

const refresh = async (token: string) =>
  fetch(`${env.base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`portal:${'p'.repeat(40)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });

const passwordDef = async () => (await call('GET', `/scim/v2/Schemas/${USER_SCHEMA}`, undefined)).body.attributes.find((a: { name: string }) => a.name === 'password');
const changePassword = async () => (await call('GET', '/scim/v2/ServiceProviderConfig', undefined)).body.changePassword;

describe('RFC 7643 §7, RFC 7644 §4: password change is a tenant setting that discovery follows', () => {
  let id: string;
  beforeAll(async () => {
    const created = await call('POST', '/scim/v2/Users', scimToken, { schemas: [USER_SCHEMA], userName: 'pw@example.com', password: PASSWORD }, 'application/scim+json');
    expect(created.status).toBe(201);
    id = created.body.id;
  });

  it('off by default: changePassword false, password immutable, PUT and PATCH of a password are 400 mutability', async () => {
    expect(await changePassword()).toEqual({ supported: false });
    expect(await passwordDef()).toMatchObject({ mutability: 'immutable', returned: 'never' });
    expect((await call('GET', '/api/tenant', admin)).body.settings).toMatchObject({ scim: { passwordChange: false } });
    const p = await call('PATCH', `/scim/v2/Users/${id}`, scimToken, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'password', value: NEW_PASSWORD }] });
    expect(p.status).toBe(400);
    expect(p.body).toMatchObject({ status: '400', scimType: 'mutability' });
    const put = await call('PUT', `/scim/v2/Users/${id}`, scimToken, { schemas: [USER_SCHEMA], userName: 'pw@example.com', password: NEW_PASSWORD });
    expect(put.body).toMatchObject({ status: '400', scimType: 'mutability' });
    const row = (await forTenant(env.database.db, env.tenant.tenant.id).select(users, eq(users.id, id)))[0]!;
    expect(await verifyPassword(row.passwordHash!, PASSWORD)).toBe(true);
  });

  it('on (PATCH /api/tenant, audited): discovery says so; PATCH hashes the new password and ends sessions and refresh tokens', async () => {
    const set = await call('PATCH', '/api/tenant', admin, { scim: { passwordChange: true } });
    expect(set.status).toBe(200);
    expect(set.body.settings).toMatchObject({ scim: { passwordChange: true } });
    const scope = forTenant(env.database.db, env.tenant.tenant.id);
    expect(await scope.select(auditEvents, eq(auditEvents.action, 'tenant.settings.update'))).toMatchObject([{ actorId: 'bootstrap', after: { scim: { passwordChange: true } } }]);
    expect(await changePassword()).toEqual({ supported: true });
    expect(await passwordDef()).toMatchObject({ mutability: 'writeOnly', returned: 'never' });

    const tokens = await signIn('pw@example.com', PASSWORD);
    expect(tokens?.refresh_token).toBeTruthy();
    const p = await call('PATCH', `/scim/v2/Users/${id}`, scimToken, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'password', value: NEW_PASSWORD }] });
    expect(p.status).toBe(200);
    expect(JSON.stringify(p.body)).not.toContain(NEW_PASSWORD);
    const row = (await scope.select(users, eq(users.id, id)))[0]!;
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(row.passwordHash!, NEW_PASSWORD)).toBe(true);
    expect((await refresh(tokens!.refresh_token)).status).toBe(400);
    expect(await scope.select(sessions, and(eq(sessions.userId, id), isNull(sessions.endedAt)))).toHaveLength(0);
    expect(await scope.select(refreshTokens, and(eq(refreshTokens.userId, id), isNull(refreshTokens.revokedAt)))).toHaveLength(0);
    expect(await signIn('pw@example.com', PASSWORD)).toBeUndefined();
    expect((await signIn('pw@example.com', NEW_PASSWORD))?.access_token).toBeTruthy();
  });

  it('on: PUT with a new password changes it; PUT repeating the current password (Okta) ends nothing', async () => {
    const tokens = await signIn('pw@example.com', NEW_PASSWORD);
    const same = await call('PUT', `/scim/v2/Users/${id}`, scimToken, { schemas: [USER_SCHEMA], userName: 'pw@example.com', password: NEW_PASSWORD });
    expect(same.status).toBe(200);
    expect((await refresh(tokens!.refresh_token)).status).toBe(200);
    const put = await call('PUT', `/scim/v2/Users/${id}`, scimToken, { schemas: [USER_SCHEMA], userName: 'pw@example.com', password: PASSWORD });
    expect(put.status).toBe(200);
    const row = (await forTenant(env.database.db, env.tenant.tenant.id).select(users, eq(users.id, id)))[0]!;
    expect(await verifyPassword(row.passwordHash!, PASSWORD)).toBe(true);
    expect(await signIn('pw@example.com', NEW_PASSWORD)).toBeUndefined();
  });
});
