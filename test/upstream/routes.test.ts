/** `/api/upstream/{AzureAd|Google|Auth0}/{id}` and `/api/upstream`: configuration, write-only secrets, warnings, isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { upstreamProviders, userIdentities } from '../../src/db/schema/index.ts';
import { findProviderWithSecret, discoveryUrlOf } from '../../src/upstream/service.ts';
import { apiFor, email, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const SECRETS = ['azure-Secret~Value.0001', 'azure-Secret~Value.0002', 'google-Secret-Value-0003', 'auth0-Secret-Value-0004'];
const azure = (extra: Record<string, unknown> = {}) => ({
  displayName: 'Hesehus Azure AD',
  clientId: '11111111-2222-3333-4444-555555555555',
  clientSecret: SECRETS[0],
  tenantId: '66666666-7777-8888-9999-000000000000',
  trustAllUsers: false,
  defaultUserRoles: [],
  ...extra,
});
const secretOf = async (a: Api, type: 'AzureAd' | 'Google' | 'Auth0', id: string) =>
  (await findProviderWithSecret(forTenant(env.database.db, a.tenant.tenant.id), env.keys, type, id))?.clientSecret;

describe('PUT, GET and DELETE per type', () => {
  it('AzureAd: 201 on create, 200 on replace; the redirect URI is the tenant URL + /signin-azuread<id>', async () => {
    const created = await api.call('PUT', '/api/upstream/AzureAd/hesehus', azure({ clientSecretExpiresAt: '2027-01-31T00:00:00+01:00' }));
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body).toEqual({
      type: 'AzureAd',
      id: 'hesehus',
      displayName: 'Hesehus Azure AD',
      clientId: '11111111-2222-3333-4444-555555555555',
      tenantId: '66666666-7777-8888-9999-000000000000',
      clientSecretSet: true,
      clientSecretExpiresAt: '2027-01-30T23:00:00.000Z',
      trustAllUsers: false,
      defaultUserRoles: [],
      domains: [],
      discoveryUrl: null,
      organizationId: null,
      defaultOrganizationRoles: [],
      redirectUri: `http://${api.tenant.host}/signin-azureadhesehus`,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const replaced = await api.call('PUT', '/api/upstream/AzureAd/hesehus', azure({ displayName: 'Renamed', trustAllUsers: true }));
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ displayName: 'Renamed', trustAllUsers: true, createdAt: body.createdAt });
    expect((await api.call('GET', '/api/upstream/AzureAd/hesehus')).json()).toEqual(replaced.json());
    expect(await discoveryUrlOf({ type: 'AzureAd', settings: { tenantId: body.tenantId } })).toBe(
      'https://login.microsoftonline.com/66666666-7777-8888-9999-000000000000/v2.0/.well-known/openid-configuration',
    );
  });

  it('Google: hostedDomain is optional; redirect URI /signin-google<id>', async () => {
    const res = await api.call('PUT', '/api/upstream/Google/gws', { displayName: 'Google', clientId: 'abc.apps.googleusercontent.com', clientSecret: SECRETS[2], hostedDomain: 'Example.COM' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ type: 'Google', hostedDomain: 'example.com', trustAllUsers: false, defaultUserRoles: [], redirectUri: `http://${api.tenant.host}/signin-googlegws` });
    const without = await api.call('PUT', '/api/upstream/Google/gws', { displayName: 'Google', clientId: 'abc.apps.googleusercontent.com' });
    expect(without.json().hostedDomain).toBeNull();
    expect(without.json()).not.toHaveProperty('tenantId');
  });

  it('Auth0: domain is required; redirect URI /signin-auth0<id>', async () => {
    expect((await api.call('PUT', '/api/upstream/Auth0/main', { displayName: 'Auth0', clientId: 'c', clientSecret: SECRETS[3] })).statusCode).toBe(400);
    const res = await api.call('PUT', '/api/upstream/Auth0/main', { displayName: 'Auth0', domain: 'acme.eu.auth0.com', clientId: 'c', clientSecret: SECRETS[3] });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ type: 'Auth0', domain: 'acme.eu.auth0.com', redirectUri: `http://${api.tenant.host}/signin-auth0main` });
  });

  it('one id may exist once per type; DELETE → 204, then 404; users linked to it stay, their links go', async () => {
    await api.call('PUT', '/api/upstream/AzureAd/shared', azure());
    await api.call('PUT', '/api/upstream/Google/shared', { displayName: 'G', clientId: 'g', clientSecret: SECRETS[2] });
    const u = (await api.call('POST', '/api/users', { email: email() })).json();
    await env.database.global.insert(userIdentities).values({ tenantId: api.tenant.tenant.id, userId: u.id, providerType: 'AzureAd', providerId: 'shared', subject: 'oid-1' });
    expect((await api.call('DELETE', '/api/upstream/AzureAd/shared')).statusCode).toBe(204);
    expect((await api.call('GET', '/api/upstream/AzureAd/shared')).statusCode).toBe(404);
    expect((await api.call('DELETE', '/api/upstream/AzureAd/shared')).statusCode).toBe(404);
    expect((await api.call('GET', '/api/upstream/Google/shared')).statusCode).toBe(200);
    expect((await api.call('GET', `/api/users/${u.id}`)).statusCode).toBe(200);
    const links = await env.database.global.select().from(userIdentities).where(and(eq(userIdentities.tenantId, api.tenant.tenant.id), eq(userIdentities.userId, u.id)));
    expect(links).toEqual([]);
    const [event] = (await api.call('GET', '/api/audit?action=upstream.delete&targetId=AzureAd/shared')).json().items;
    expect(event.before).toMatchObject({ id: 'shared', unlinkedIdentities: 1 });
  });

  it('concurrent PUTs creating one id: both succeed, one creates and one replaces', async () => {
    const results = await Promise.all([1, 2, 3].map((n) => api.call('PUT', '/api/upstream/AzureAd/racy', azure({ displayName: `Racer ${n}` }))));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 201]);
    expect((await api.call('GET', '/api/audit?targetId=AzureAd/racy')).json().items.map((e: { action: string }) => e.action).sort()).toEqual([
      'upstream.create',
      'upstream.update',
      'upstream.update',
    ]);
  });
});

describe('the client secret is write-only', () => {
  it('a PUT without clientSecret keeps the stored secret and its expiry; a new secret replaces both', async () => {
    await api.call('PUT', '/api/upstream/AzureAd/keep', azure({ clientSecret: SECRETS[0], clientSecretExpiresAt: '2030-01-01T00:00:00Z' }));
    const { clientSecret, ...noSecret } = azure();
    const kept = await api.call('PUT', '/api/upstream/AzureAd/keep', { ...noSecret, displayName: 'Kept' });
    expect(kept.statusCode).toBe(200);
    expect(kept.json()).toMatchObject({ displayName: 'Kept', clientSecretSet: true, clientSecretExpiresAt: '2030-01-01T00:00:00.000Z' });
    expect(await secretOf(api, 'AzureAd', 'keep')).toBe(SECRETS[0]);
    const rotated = await api.call('PUT', '/api/upstream/AzureAd/keep', azure({ clientSecret: SECRETS[1] }));
    expect(rotated.json()).toMatchObject({ clientSecretSet: true, clientSecretExpiresAt: null });
    expect(await secretOf(api, 'AzureAd', 'keep')).toBe(SECRETS[1]);
    const [event] = (await api.call('GET', '/api/audit?targetId=AzureAd/keep&limit=1')).json().items;
    expect(event.after).toMatchObject({ clientSecretSet: true, clientSecretChanged: true });
  });

  it('creating a provider without clientSecret → 400 naming it', async () => {
    const { clientSecret, ...noSecret } = azure();
    const res = await api.call('PUT', '/api/upstream/AzureAd/nosecret', noSecret);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ field: 'clientSecret' });
    expect((await api.call('GET', '/api/upstream/AzureAd/nosecret')).statusCode).toBe(404);
  });

  it('the secret is stored sealed, bound to its row: never in plain text, and a copy to another row does not open', async () => {
    await api.call('PUT', '/api/upstream/AzureAd/sealed', azure({ clientSecret: SECRETS[1] }));
    const [row] = await env.database.global
      .select()
      .from(upstreamProviders)
      .where(and(eq(upstreamProviders.tenantId, api.tenant.tenant.id), eq(upstreamProviders.id, 'sealed')));
    expect(row!.clientSecretSealed).toBeTruthy();
    expect(JSON.stringify(row)).not.toContain(SECRETS[1]);
    expect(() => env.keys.unseal(row!.clientSecretSealed!, `${api.tenant.tenant.id}/upstream/AzureAd/other`)).toThrow();
  });

  it('no secret appears in any response, audit row or log line', async () => {
    for (const [i, s] of SECRETS.entries()) {
      await api.call('PUT', `/api/upstream/AzureAd/redact${i}`, azure({ clientSecret: s }));
      // A rejected body carrying a secret is not echoed either.
      const bad = await api.call('PUT', `/api/upstream/AzureAd/redact${i}`, azure({ clientSecret: s, unknownField: s }));
      expect(bad.statusCode).toBe(400);
      expect(bad.body).not.toContain(s);
      const wrongType = await api.call('PUT', `/api/upstream/AzureAd/redact${i}`, azure({ clientSecret: { value: s } }));
      expect(wrongType.statusCode).toBe(400);
      expect(wrongType.body).not.toContain(s);
    }
    const everything = [
      (await api.call('GET', '/api/upstream?limit=200')).body,
      (await api.call('GET', '/api/upstream/AzureAd/redact0')).body,
      (await api.call('GET', '/api/audit?limit=200')).body,
      JSON.stringify(await env.database.global.execute(`select * from audit_events where tenant_id = '${api.tenant.tenant.id}'`)),
      env.logs.join('\n'),
    ].join('\n');
    for (const s of SECRETS) expect(everything).not.toContain(s);
    expect(everything).not.toMatch(/clientSecretSealed/);
  });
});

describe('defaultUserRoles, domains and discoveryUrl', () => {
  it('defaultUserRoles must name existing roles (400 naming the unknown ones)', async () => {
    const res = await api.call('PUT', '/api/upstream/AzureAd/roles', azure({ defaultUserRoles: ['admin', 'ghost', 'phantom'] }));
    expect(res.statusCode).toBe(400);
    expect(res.json().unknownRoles).toEqual(['ghost', 'phantom']);
    await api.call('POST', '/api/roles', { name: 'employee', permissions: [] });
    const ok = await api.call('PUT', '/api/upstream/AzureAd/roles', azure({ defaultUserRoles: ['employee'] }));
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).not.toHaveProperty('warnings');
  });

  it('admin in defaultUserRoles is accepted with a warning in every response about the provider', async () => {
    const res = await api.call('PUT', '/api/upstream/AzureAd/risky', azure({ defaultUserRoles: ['admin'] }));
    expect(res.statusCode).toBe(201);
    expect(res.json().warnings).toEqual([expect.stringContaining('admin')]);
    expect((await api.call('GET', '/api/upstream/AzureAd/risky')).json().warnings).toHaveLength(1);
    const trusting = await api.call('PUT', '/api/upstream/AzureAd/risky', azure({ defaultUserRoles: ['admin'], trustAllUsers: true }));
    expect(trusting.json().warnings[0]).toContain('trustAllUsers');
  });

  it('domains are lowercased, and one domain routes to one provider (409 naming it)', async () => {
    const res = await api.call('PUT', '/api/upstream/AzureAd/corp', azure({ domains: ['Corp.Example.com', 'corp.example.com', 'sub.corp.example.com'] }));
    expect(res.json().domains).toEqual(['corp.example.com', 'sub.corp.example.com']);
    const clash = await api.call('PUT', '/api/upstream/Google/corp2', { displayName: 'G', clientId: 'g', clientSecret: 'x-secret', domains: ['CORP.example.com'] });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ field: 'domains', domains: ['corp.example.com'] });
    // Re-putting the owner with its own domains is no clash.
    expect((await api.call('PUT', '/api/upstream/AzureAd/corp', azure({ domains: ['corp.example.com'] }))).statusCode).toBe(200);
    for (const bad of ['not a domain', 'http://x.com', '.com', 'a..b']) {
      expect((await api.call('PUT', '/api/upstream/AzureAd/corp', azure({ domains: [bad] }))).statusCode, bad).toBe(400);
    }
  });

  it('discoveryUrl: https anywhere, http only for loopback; stored and used instead of the default', async () => {
    const sovereign = 'https://login.microsoftonline.us/tenant/v2.0/.well-known/openid-configuration';
    const res = await api.call('PUT', '/api/upstream/AzureAd/gov', azure({ discoveryUrl: sovereign }));
    expect(res.json().discoveryUrl).toBe(sovereign);
    const stored = await findProviderWithSecret(forTenant(env.database.db, api.tenant.tenant.id), env.keys, 'AzureAd', 'gov');
    expect(discoveryUrlOf(stored!)).toBe(sovereign);
    expect((await api.call('PUT', '/api/upstream/AzureAd/gov', azure({ discoveryUrl: 'http://127.0.0.1:4000/.well-known/openid-configuration' }))).statusCode).toBe(200);
    expect((await api.call('PUT', '/api/upstream/AzureAd/gov', azure({ discoveryUrl: 'http://localhost:4000/x' }))).statusCode).toBe(200);
    for (const bad of ['http://idp.example.com/.well-known/openid-configuration', 'ftp://x.example.com/', 'https://user:pw@x.example.com/', 'not a url']) {
      const r = await api.call('PUT', '/api/upstream/AzureAd/gov', azure({ discoveryUrl: bad }));
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().errors[0].path).toBe('/discoveryUrl');
    }
    // PUT replaces: without discoveryUrl the default applies again.
    expect((await api.call('PUT', '/api/upstream/AzureAd/gov', azure())).json().discoveryUrl).toBeNull();
  });
});

describe('GET /api/upstream', () => {
  it('lists all types ordered by type and id; ?expiringWithinDays lists secrets expiring within that many days (expired included)', async () => {
    const t = await apiFor(env, await env.newTenant());
    const days = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
    await t.call('PUT', '/api/upstream/AzureAd/soon', azure({ clientSecretExpiresAt: days(10) }));
    await t.call('PUT', '/api/upstream/AzureAd/later', azure({ clientSecretExpiresAt: days(90) }));
    await t.call('PUT', '/api/upstream/AzureAd/expired', azure({ clientSecretExpiresAt: days(-2) }));
    await t.call('PUT', '/api/upstream/AzureAd/never', azure());
    await t.call('PUT', '/api/upstream/Google/g', { displayName: 'G', clientId: 'g', clientSecret: 'x-secret' });
    await t.call('PUT', '/api/upstream/Auth0/a', { displayName: 'A', domain: 'a.auth0.com', clientId: 'a', clientSecret: 'x-secret' });
    const all = (await t.call('GET', '/api/upstream')).json();
    expect(all.items.map((p: { type: string; id: string }) => `${p.type}/${p.id}`)).toEqual(['Auth0/a', 'AzureAd/expired', 'AzureAd/later', 'AzureAd/never', 'AzureAd/soon', 'Google/g']);
    expect(all.items.every((p: { redirectUri: string }) => p.redirectUri.startsWith(`http://${t.tenant.host}/signin-`))).toBe(true);
    const expiring = (await t.call('GET', '/api/upstream?expiringWithinDays=30')).json();
    expect(expiring.items.map((p: { id: string }) => p.id)).toEqual(['expired', 'soon']);
    const page1 = (await t.call('GET', '/api/upstream?limit=4')).json();
    const page2 = (await t.call('GET', `/api/upstream?limit=4&cursor=${page1.nextCursor}`)).json();
    expect([...page1.items, ...page2.items].map((p: { id: string }) => p.id)).toEqual(all.items.map((p: { id: string }) => p.id));
    expect(page2.nextCursor).toBeNull();
    for (const q of ['?expiringWithinDays=-1', '?expiringWithinDays=soon', '?type=AzureAd']) expect((await t.call('GET', `/api/upstream${q}`)).statusCode, q).toBe(400);
  });
});

describe('bad input', () => {
  it('invalid ids → 400: the id is part of the sign-in path', async () => {
    for (const id of ['Hesehus', '-lead', 'has_underscore', 'a.b', 'x'.repeat(65), '%C3%A9', 'a%2Fb']) {
      const res = await api.call('PUT', `/api/upstream/AzureAd/${id}`, azure());
      expect(res.statusCode, id).toBe(400);
      expect(res.json().errors[0]).toMatchObject({ location: 'params', path: '/id' });
    }
    expect((await api.call('PUT', `/api/upstream/AzureAd/${'x'.repeat(64)}`, azure())).statusCode).toBe(201);
    expect((await api.call('GET', '/api/upstream/Okta/x')).statusCode).toBe(404);
  });

  it('unknown fields (including another type\'s) are named; wrong types name the path', async () => {
    const res = await api.call('PUT', '/api/upstream/AzureAd/bad', azure({ hostedDomain: 'example.com', clientSecretSealed: 'x' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['hostedDomain', 'clientSecretSealed'] });
    const google = await api.call('PUT', '/api/upstream/Google/bad', { displayName: 'G', clientId: 'g', clientSecret: 's', clientSecretExpiresAt: '2030-01-01T00:00:00Z' });
    expect(google.statusCode).toBe(400);
    expect(google.json().errors[0].keys).toEqual(['clientSecretExpiresAt']);
    for (const [extra, path] of [
      [{ clientId: 'not-a-guid' }, '/clientId'],
      [{ tenantId: 'not a tenant' }, '/tenantId'],
      [{ trustAllUsers: 'false' }, '/trustAllUsers'],
      [{ defaultUserRoles: 'admin' }, '/defaultUserRoles'],
      [{ displayName: '' }, '/displayName'],
      [{ clientSecretExpiresAt: 'tomorrow' }, '/clientSecretExpiresAt'],
    ] as const) {
      const r = await api.call('PUT', '/api/upstream/AzureAd/bad', azure(extra));
      expect(r.statusCode, path).toBe(400);
      expect(r.json().errors[0].path).toBe(path);
    }
  });

  it('malformed JSON → 400; oversized → 413', async () => {
    expect((await api.raw('PUT', '/api/upstream/AzureAd/bad', '{"displayName":')).statusCode).toBe(400);
    expect((await api.raw('PUT', '/api/upstream/AzureAd/bad', JSON.stringify(azure({ displayName: 'x'.repeat(2_000_000) })))).statusCode).toBe(413);
  });
});

describe("tenant isolation: tenant B's token on B's host, addressing A's providers", () => {
  it("GET and DELETE of A's provider → 404; B's PUT of the same id creates B's own; A's provider and secret are unchanged", async () => {
    await api.call('PUT', '/api/upstream/AzureAd/isolated', azure({ clientSecret: SECRETS[0] }));
    const before = (await api.call('GET', '/api/upstream/AzureAd/isolated')).json();
    for (const type of ['AzureAd', 'Google', 'Auth0']) {
      expect((await other.call('GET', `/api/upstream/${type}/isolated`)).statusCode).toBe(404);
      expect((await other.call('DELETE', `/api/upstream/${type}/isolated`)).statusCode).toBe(404);
    }
    expect((await other.call('GET', '/api/upstream?limit=200')).json().items.map((p: { id: string }) => p.id)).not.toContain('isolated');
    const { clientSecret, ...noSecret } = azure();
    // Without a secret, B cannot "replace" A's provider: for B it is a new one.
    expect((await other.call('PUT', '/api/upstream/AzureAd/isolated', noSecret)).statusCode).toBe(400);
    const own = await other.call('PUT', '/api/upstream/AzureAd/isolated', azure({ clientSecret: SECRETS[1], displayName: 'B' }));
    expect(own.statusCode).toBe(201);
    expect(own.json().redirectUri).toBe(`http://${other.tenant.host}/signin-azureadisolated`);
    expect((await api.call('GET', '/api/upstream/AzureAd/isolated')).json()).toEqual(before);
    expect(await secretOf(api, 'AzureAd', 'isolated')).toBe(SECRETS[0]);
    expect(await secretOf(other, 'AzureAd', 'isolated')).toBe(SECRETS[1]);
  });
});
