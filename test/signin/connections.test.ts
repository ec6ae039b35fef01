/**
 * Sign-in through an organization's generic OIDC connection, against a real OpenID Provider on loopback
 * (oidc-provider), through our real HTTP surface: routing by organization_id, connection_id and login_hint (verified
 * domains only), the JIT policies, linking only by a verified email in a verified domain, IdP-initiated login turned
 * into SP-initiated, and isolation between tenants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { authorizationRequest, bootstrapTokenHttp, httpApi } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';
import { apiFor } from '../support/api.ts';

let env: ListeningEnv;
let admin: string;
let idp: UpstreamIdp;
let orgId: string;
let connectionId: string;
const APP_REDIRECT = 'https://app.example.com/callback';
const APP_SECRET = 'c'.repeat(40);

const { api, ok } = httpApi(() => env.base, () => admin);

async function newConnection(organizationId: string, patch: Record<string, unknown> = {}): Promise<string> {
  const c = await ok('POST', `/api/organizations/${organizationId}/connections`, {
    type: 'oidc',
    displayName: 'Megacorp IdP',
    settings: { issuer: idp.issuer, discoveryUrl: idp.discoveryUrl, clientId: idp.clientId },
    clientSecret: idp.clientSecret,
    defaultOrganizationRoles: ['member'],
    ...patch,
  });
  await ok('POST', `/api/connections/${c.id}/activate`, {});
  return c.id;
}

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  orgId = (await ok('POST', '/api/organizations', { displayName: 'Megacorp' })).id;
  const domain = await ok('POST', `/api/organizations/${orgId}/domains`, { domain: 'megacorp.test' });
  await ok('POST', `/api/organizations/${orgId}/domains/${domain.id}/mark-verified`, {});
  // Connection ids are made after the IdP starts: it accepts our callback for any of them.
  idp = await startUpstreamIdp({ kind: 'google', redirectUris: [], redirectUriPattern: new RegExp(`^${env.base.replace(/[.]/g, '\\.')}/sso/oidc/[0-9a-f-]{36}/callback$`) });
  await ok('PUT', '/api/downstream/InteractiveApplication/app', { displayName: 'App', allowedScopes: ['openid', 'profile', 'email'], redirectUris: [APP_REDIRECT], clientSecret: APP_SECRET });
});
afterAll(async () => {
  await idp?.close();
  await env.close();
});

const authorize = (params: Record<string, string>) => authorizationRequest(env.base, { clientId: 'app', secret: APP_SECRET, redirectUri: APP_REDIRECT }, params);

describe('OIDC connection sign-in', () => {
  it('organization_id routes to the connection; a new user in a verified domain is created and made a member with the default roles', async () => {
    connectionId = await newConnection(orgId);
    const { config, verifier, state, url } = await authorize({ organization_id: orgId });
    idp.nextLogin({ sub: 'okta-ada', email: 'ada@megacorp.test', email_verified: true, given_name: 'Ada', family_name: 'Lovelace' });
    const browser = new Browser();
    const first = await browser.request(url.toString());
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(new RegExp(`^/sso/oidc/${connectionId}/start\\?`));
    const done = await browser.follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
    expect(done.url.startsWith(APP_REDIRECT), done.url).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    const sub = tokens.claims()!.sub;
    // The sign-in ran in the connection's organization: the tokens say so (ADR 0009).
    expect(tokens.claims()).toMatchObject({ org_id: orgId, org_roles: ['member'] });
    const members = await ok('GET', `/api/organizations/${orgId}/members`);
    expect(members.items).toEqual([expect.objectContaining({ userId: sub, roles: ['member'] })]);
    const user = await ok('GET', `/api/users/${sub}`);
    expect(user).toMatchObject({ email: 'ada@megacorp.test' });
    const trail = await ok('GET', `/api/audit?action=signin.success&targetId=${sub}`);
    expect(trail.items[0].after).toMatchObject({ method: `connection:oidc:${connectionId}`, organizationId: orgId });
  });

  it('login_hint routes only by a verified domain; connection_id by id; an inactive connection routes nothing', async () => {
    const browser = new Browser();
    const hinted = await browser.request((await authorize({ login_hint: 'someone@megacorp.test' })).url.toString());
    expect(hinted.headers.get('location')).toMatch(new RegExp(`^/sso/oidc/${connectionId}/start`));
    const unverified = await browser.request((await authorize({ login_hint: 'someone@megacorp-lookalike.test' })).url.toString());
    expect(unverified.headers.get('location')).toMatch(/^\/login\?/);
    const byId = await browser.request((await authorize({ connection_id: connectionId })).url.toString());
    expect(byId.headers.get('location')).toMatch(new RegExp(`^/sso/oidc/${connectionId}/start`));

    const other = await newConnection(orgId, { displayName: 'second' });
    await ok('POST', `/api/connections/${other}/deactivate`, {});
    const inactive = await browser.request((await authorize({ connection_id: other })).url.toString());
    expect(new URL(inactive.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    expect((await browser.request(`${env.base}/sso/oidc/${other}/start?return_to=/`)).status).toBe(404);
    const unknownOrg = await browser.request((await authorize({ organization_id: '00000000-0000-4000-8000-000000000000' })).url.toString());
    expect(new URL(unknownOrg.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('verified_domains: an email outside the verified domains is not admitted', async () => {
    idp.nextLogin({ sub: 'okta-eve', email: 'eve@elsewhere.test', email_verified: true });
    const done = await new Browser().follow(`${env.base}/sso/oidc/${connectionId}/start?return_to=/`);
    expect(done.res.status).toBe(403);
    expect((await ok('GET', '/api/audit?action=signin.failure&targetId=' + connectionId)).items[0].after).toMatchObject({ reason: 'not-allowed', subject: 'okta-eve' });
  });

  it('an existing user is linked only by a verified email in a verified domain of the organization', async () => {
    const anyone = await ok('POST', '/api/organizations', { displayName: 'Open Org' });
    const open = await newConnection(anyone.id, { jitPolicy: 'anyone' });
    // bob exists in the tenant; his domain is not verified for "Open Org": the IdP's word is not enough to take over his account.
    const bob = await ok('POST', '/api/users', { email: 'bob@bobs-own.test' });
    idp.nextLogin({ sub: 'idp-bob', email: 'bob@bobs-own.test', email_verified: true });
    const refused = await new Browser().follow(`${env.base}/sso/oidc/${open}/start?return_to=/`);
    expect(refused.res.status).toBe(403);
    expect(await ok('GET', `/api/users/${bob.id}/identities`)).toEqual([]);

    // carol's email is in Megacorp's verified domain: linked, and becomes a member.
    const carol = await ok('POST', '/api/users', { email: 'carol@megacorp.test' });
    idp.nextLogin({ sub: 'idp-carol', email: 'carol@megacorp.test', email_verified: true });
    const linked = await new Browser().follow(`${env.base}/sso/oidc/${connectionId}/start?return_to=/`);
    expect(linked.res.status).toBeLessThan(400);
    const ids = await ok('GET', `/api/users/${carol.id}/identities`);
    expect(JSON.stringify(ids)).toContain('idp-carol');
    expect((await ok('GET', `/api/organizations/${orgId}/members/${carol.id}`)).roles).toEqual(['member']);
  });

  it('existing_members: a non-member is refused even with a verified email', async () => {
    const strict = await newConnection(orgId, { jitPolicy: 'existing_members' });
    idp.nextLogin({ sub: 'idp-dan', email: 'dan@megacorp.test', email_verified: true });
    const done = await new Browser().follow(`${env.base}/sso/oidc/${strict}/start?return_to=/`);
    expect(done.res.status).toBe(403);
  });

  it('IdP-initiated: /initiate starts a fresh SP-initiated sign-in; a wrong iss is refused; a callback without our transaction restarts', async () => {
    const browser = new Browser();
    const started = await browser.request(`${env.base}/sso/oidc/${connectionId}/initiate?iss=${encodeURIComponent(idp.issuer)}&login_hint=ada@megacorp.test&target_link_uri=${encodeURIComponent(env.base + '/account')}`);
    expect(started.status).toBe(303);
    const loc = new URL(started.headers.get('location')!, env.base);
    expect(loc.pathname).toBe(`/sso/oidc/${connectionId}/start`);
    expect(loc.searchParams.get('return_to')).toBe('/account');
    const evil = await browser.request(`${env.base}/sso/oidc/${connectionId}/initiate?iss=https://evil.example&target_link_uri=https://evil.example/`);
    expect(evil.status).toBe(400);
    const offsite = await browser.request(`${env.base}/sso/oidc/${connectionId}/initiate?target_link_uri=https://evil.example/`);
    expect(new URL(offsite.headers.get('location')!, env.base).searchParams.get('return_to')).toBe('/');
    const unsolicited = await new Browser().request(`${env.base}/sso/oidc/${connectionId}/callback?code=forged&state=x`);
    expect(unsolicited.status).toBe(303);
    expect(unsolicited.headers.get('location')).toMatch(new RegExp(`^/sso/oidc/${connectionId}/start`));
  });

  it("another tenant cannot start a sign-in through this tenant's connection", async () => {
    const other = await env.newTenant();
    const res = await env.app.inject({ url: `/sso/oidc/${connectionId}/start?return_to=/`, headers: { host: other.host } });
    expect(res.statusCode).toBe(404);
    const otherApi = await apiFor(env, other);
    expect((await otherApi.call('GET', `/api/connections/${connectionId}`)).statusCode).toBe(404);
  });
});
