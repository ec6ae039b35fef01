/**
 * Sign-in through upstream providers bound to an organization (issue #11 item 4), against real OpenID Providers on
 * loopback (oidc-provider playing Entra ID and Google), through our real HTTP surface and a downstream application
 * (openid-client): `organization_id`, `connection_id`, `login_hint` and `domain_hint` route to a bound provider; the
 * sign-in runs in its organization (membership with `defaultOrganizationRoles`, tokens with `org_id`/`org_roles`);
 * `trustAllUsers: false` admits existing members only; and no hint ever leads to another organization's provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { authorizationRequest, bootstrapTokenHttp, httpApi } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

let env: ListeningEnv;
let admin: string;
let entra: UpstreamIdp;
let google: UpstreamIdp;
let acme: string;
let beta: string;
let bare: string;
const TID = '11111111-2222-3333-4444-555555555555';
const APP_REDIRECT = 'https://app.example.com/callback';
const APP_SECRET = 'c'.repeat(40);

const { api, ok } = httpApi(() => env.base, () => admin);

async function verifiedOrganization(displayName: string, domain: string): Promise<string> {
  const id = (await ok('POST', '/api/organizations', { displayName })).id as string;
  const d = await ok('POST', `/api/organizations/${id}/domains`, { domain });
  await ok('POST', `/api/organizations/${id}/domains/${d.id}/mark-verified`, {});
  return id;
}

const googleProvider = (extra: Record<string, unknown>) => ({ displayName: 'Google', clientId: google.clientId, clientSecret: google.clientSecret, discoveryUrl: google.discoveryUrl, trustAllUsers: true, defaultUserRoles: [], ...extra });

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  entra = await startUpstreamIdp({ kind: 'entra', tid: TID, redirectUris: [`${env.base}/signin-azureadacme`] });
  google = await startUpstreamIdp({ kind: 'google', redirectUris: ['beta', 'beta-later', 'gone', 'wide'].map((id) => `${env.base}/signin-google${id}`) });
  acme = await verifiedOrganization('Acme', 'acme.test');
  beta = await verifiedOrganization('Beta', 'beta.test');
  // An organization with a verified domain and no sign-in method of its own.
  bare = await verifiedOrganization('Bare', 'bare.test');
  await ok('PUT', '/api/upstream/AzureAd/acme', {
    displayName: 'Acme Entra ID',
    clientId: entra.clientId,
    clientSecret: entra.clientSecret,
    tenantId: TID,
    discoveryUrl: entra.discoveryUrl,
    trustAllUsers: true,
    defaultUserRoles: [],
    organizationId: acme,
    defaultOrganizationRoles: ['member', 'viewer'],
  });
  // Beta's provider lets in existing members only, and (wrongly) claims Bare's verified domain.
  await ok('PUT', '/api/upstream/Google/beta', googleProvider({ displayName: 'Beta Google', trustAllUsers: false, organizationId: beta, defaultOrganizationRoles: ['member'], domains: ['bare.test'] }));
  await ok('PUT', '/api/upstream/Google/beta-later', googleProvider({ displayName: 'Beta Google (second)', organizationId: beta }));
  await ok('PUT', '/api/upstream/Google/wide', googleProvider({ displayName: 'Tenant-wide Google', domains: ['wide.test'] }));
  await ok('PUT', '/api/downstream/InteractiveApplication/app', { displayName: 'App', allowedScopes: ['openid', 'profile', 'email'], redirectUris: [APP_REDIRECT], clientSecret: APP_SECRET });
});
afterAll(async () => {
  await Promise.all([entra?.close(), google?.close()]);
  await env.close();
});

const authorize = (params: Record<string, string>) => authorizationRequest(env.base, { clientId: 'app', secret: APP_SECRET, redirectUri: APP_REDIRECT }, params);

/** The whole flow from the application's authorization request to its tokens. */
async function signIn(params: Record<string, string>) {
  const { config, verifier, state, url } = await authorize(params);
  const done = await new Browser().follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
  expect(done.url.startsWith(APP_REDIRECT), `${done.url} ${done.res.status}`).toBe(true);
  expect(new URL(done.url).searchParams.get('error')).toBeNull();
  return client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
}

/** Where the authorization request sends the browser first. */
async function firstHop(params: Record<string, string>): Promise<URL> {
  const res = await new Browser().request((await authorize(params)).url.toString());
  expect(res.status).toBe(303);
  return new URL(res.headers.get('location')!, env.base);
}

describe('sign-in through a provider bound to an organization', () => {
  it('organization_id routes to it; a new user joins with defaultOrganizationRoles and the tokens carry org_id and org_roles', async () => {
    const hop = await firstHop({ organization_id: acme });
    expect(hop.pathname).toBe('/login/upstream/AzureAd/acme');
    entra.nextLogin({ sub: 'entra-ada', email: 'ada@acme.test', email_verified: true, tid: TID, name: 'Ada Lovelace' });
    const tokens = await signIn({ organization_id: acme });
    const sub = tokens.claims()!.sub;
    expect(tokens.claims()).toMatchObject({ org_id: acme, org_roles: ['member', 'viewer'], email: 'ada@acme.test' });
    expect(await ok('GET', `/api/organizations/${acme}/members/${sub}`)).toMatchObject({ roles: ['member', 'viewer'], status: 'active' });
    const [success] = (await ok('GET', `/api/audit?action=signin.success&targetId=${sub}`)).items;
    expect(success.after).toMatchObject({ method: 'upstream:AzureAd:acme', organizationId: acme });
    const [joined] = (await ok('GET', `/api/audit?action=organization.membership.add&targetId=${acme}`)).items;
    expect(joined.actor).toMatchObject({ type: 'system', id: 'upstream:AzureAd:acme' });
  });

  it('connection_id=AzureAd:acme, login_hint and domain_hint route there too, and the sign-in still runs in Acme', async () => {
    expect((await firstHop({ login_hint: 'someone@acme.test' })).pathname).toBe('/login/upstream/AzureAd/acme');
    expect((await firstHop({ domain_hint: 'acme.test' })).pathname).toBe('/login/upstream/AzureAd/acme');
    expect((await firstHop({ connection_id: 'AzureAd:acme' })).pathname).toBe('/login/upstream/AzureAd/acme');
    entra.nextLogin({ sub: 'entra-grace', email: 'grace@acme.test', email_verified: true, tid: TID });
    const tokens = await signIn({ connection_id: 'AzureAd:acme' });
    expect(tokens.claims()).toMatchObject({ org_id: acme, org_roles: ['member', 'viewer'] });
    // The home-realm discovery of the login page goes there as well.
    const browser = new Browser();
    const page = await (await browser.request(`${env.base}/login?return_to=%2F`)).text();
    const csrf = /name="csrf" value="([^"]*)"/.exec(page)![1]!;
    const discovered = await (await browser.request(`${env.base}/login`, { form: { login: 'x@acme.test', csrf, return_to: '/' } })).text();
    expect(discovered).toContain('/login/upstream/AzureAd/acme');
  });

  it('an invitee keeps the roles they were invited with', async () => {
    const invitation = await ok('POST', `/api/organizations/${acme}/invitations`, { email: 'ivy@acme.test', roles: ['owner'], send: false });
    entra.nextLogin({ sub: 'entra-ivy', email: 'ivy@acme.test', email_verified: true, tid: TID });
    const tokens = await signIn({ organization_id: acme });
    expect(tokens.claims()).toMatchObject({ sub: invitation.userId, org_id: acme, org_roles: ['owner'] });
  });

  it('trustAllUsers false: a non-member is refused (audited) even when their account exists; a member gets in with their roles', async () => {
    const bob = await ok('POST', '/api/users', { email: 'bob@beta.test' });
    google.nextLogin({ sub: 'google-bob', email: 'bob@beta.test', email_verified: true });
    const { url } = await authorize({ organization_id: beta });
    const refused = await new Browser().follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
    expect(refused.res.status).toBe(403);
    expect(await refused.res.text()).toContain('not allowed');
    const [failure] = (await ok('GET', '/api/audit?action=signin.failure&targetId=Google/beta')).items;
    expect(failure).toMatchObject({ actor: { type: 'system', id: 'upstream:Google:beta' }, after: { method: 'upstream:Google:beta', outcome: 'not admitted', reason: 'not-a-member', subject: 'google-bob' } });
    expect((await api('GET', `/api/organizations/${beta}/members/${bob.id}`)).status).toBe(404);
    // A stranger is not even admitted to the tenant (trustAllUsers false, as for a tenant-wide provider).
    google.nextLogin({ sub: 'google-stranger', email: 'stranger@beta.test', email_verified: true });
    expect((await new Browser().follow(`${env.base}/login/upstream/Google/beta?return_to=/`)).res.status).toBe(403);

    await ok('PUT', `/api/organizations/${beta}/members/${bob.id}`, { roles: ['billing'] });
    google.nextLogin({ sub: 'google-bob', email: 'bob@beta.test', email_verified: true });
    const tokens = await signIn({ organization_id: beta });
    expect(tokens.claims()).toMatchObject({ sub: bob.id, org_id: beta, org_roles: ['billing'] });
  });

  it('a bound provider links an existing account only by a verified email in its own organization\'s verified domains', async () => {
    // Acme's Entra ID asserts the address of a user at Beta's domain: no takeover of that account (a tenant-wide
    // provider would link it, as the Bizzkit seed has it).
    const victim = await ok('POST', '/api/users', { email: 'carol@beta.test' });
    entra.nextLogin({ sub: 'entra-carol', email: 'carol@beta.test', email_verified: true, tid: TID });
    const { url } = await authorize({ organization_id: acme });
    const refused = await new Browser().follow(url.toString(), (u) => u.startsWith(APP_REDIRECT));
    expect(refused.res.status).toBe(403);
    expect((await ok('GET', `/api/users/${victim.id}/identities`)).items ?? []).toEqual([]);
    const [refusal] = (await ok('GET', '/api/audit?action=user.identity.link.refused')).items;
    expect(refusal.after).toMatchObject({ subject: 'entra-carol', reason: 'not-allowed' });
    // At its own domain, an existing user is linked.
    const own = await ok('POST', '/api/users', { email: 'dora@acme.test' });
    entra.nextLogin({ sub: 'entra-dora', email: 'dora@acme.test', email_verified: true, tid: TID });
    expect((await signIn({ organization_id: acme })).claims()).toMatchObject({ sub: own.id, org_id: acme });
  });

  it('organization_id goes to the first bound provider in creation order; an active SSO connection comes before any', async () => {
    expect((await firstHop({ organization_id: beta })).pathname).toBe('/login/upstream/Google/beta');
    const gamma = (await ok('POST', '/api/organizations', { displayName: 'Gamma' })).id as string;
    await ok('PUT', '/api/upstream/Google/gamma', googleProvider({ organizationId: gamma }));
    expect((await firstHop({ organization_id: gamma })).pathname).toBe('/login/upstream/Google/gamma');
    const connection = await ok('POST', `/api/organizations/${gamma}/connections`, {
      type: 'oidc',
      displayName: 'Gamma Okta',
      settings: { issuer: google.issuer, discoveryUrl: google.discoveryUrl, clientId: google.clientId },
      clientSecret: google.clientSecret,
    });
    await ok('POST', `/api/connections/${connection.id}/activate`, {});
    expect((await firstHop({ organization_id: gamma })).pathname).toBe(`/sso/oidc/${connection.id}/start`);
    // The rule below holds for connections too: organization_id=A never leads to B's connection.
    expect((await firstHop({ organization_id: beta, connection_id: connection.id })).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('the SSO pre-check', () => {
  it('GET /api/connections?domain= counts a bound provider as the organization\'s SSO', async () => {
    const pre = await ok('GET', '/api/connections?domain=someone@acme.test');
    expect(pre).toMatchObject({ domain: 'acme.test', sso: true, organizationId: acme, connections: [], upstreamProviders: [{ type: 'AzureAd', id: 'acme', displayName: 'Acme Entra ID' }] });
    // Bare has a verified domain and no sign-in method at all; a tenant-wide provider listing a domain is not SSO.
    expect(await ok('GET', '/api/connections?domain=bare.test')).toMatchObject({ sso: false, organizationId: bare, connections: [], upstreamProviders: [] });
  });
});

describe('never another organization', () => {
  it('organization_id=A with connection_id naming B’s provider is invalid_request, not a sign-in at B', async () => {
    const hop = await firstHop({ organization_id: acme, connection_id: 'Google:beta' });
    expect(hop.toString().startsWith(APP_REDIRECT)).toBe(true);
    expect(hop.searchParams.get('error')).toBe('invalid_request');
    // Its own organization's provider, or a tenant-wide one, is still fine.
    expect((await firstHop({ organization_id: beta, connection_id: 'Google:beta' })).pathname).toBe('/login/upstream/Google/beta');
    expect((await firstHop({ organization_id: acme, connection_id: 'Google:wide' })).pathname).toBe('/login/upstream/Google/wide');
  });

  it('an organization without a sign-in method gets the login page, which offers only tenant-wide providers', async () => {
    const hop = await firstHop({ organization_id: bare });
    expect(hop.pathname).toBe('/login');
    const page = await (await new Browser().request(hop.toString())).text();
    expect(page).toContain('Tenant-wide Google');
    expect(page).not.toContain('/login/upstream/Google/beta');
    expect(page).not.toContain('/login/upstream/AzureAd/acme');
  });

  it('a domain verified by one organization never routes to a provider bound to another, even one listing the domain', async () => {
    expect((await firstHop({ login_hint: 'someone@bare.test' })).pathname).toBe('/login');
    expect((await firstHop({ domain_hint: 'bare.test' })).pathname).toBe('/login');
  });
});

describe('tenant-wide providers and deletion', () => {
  it('a tenant-wide provider signs in without an organization, as before', async () => {
    expect((await firstHop({ domain_hint: 'wide.test' })).pathname).toBe('/login/upstream/Google/wide');
    google.nextLogin({ sub: 'google-wendy', email: 'wendy@wide.test', email_verified: true });
    const tokens = await signIn({ domain_hint: 'wide.test' });
    expect(tokens.claims()!.email).toBe('wendy@wide.test');
    expect(tokens.claims()).not.toHaveProperty('org_id');
    expect(tokens.claims()).not.toHaveProperty('org_roles');
  });

  it('deleting the organization deletes its provider: its sign-in path and routing stop', async () => {
    const gone = await verifiedOrganization('Gone', 'gone.test');
    await ok('PUT', '/api/upstream/Google/gone', googleProvider({ organizationId: gone }));
    expect((await firstHop({ organization_id: gone })).pathname).toBe('/login/upstream/Google/gone');
    expect((await api('DELETE', `/api/organizations/${gone}`)).status).toBe(204);
    expect((await new Browser().request(`${env.base}/login/upstream/Google/gone?return_to=/`)).status).toBe(404);
    expect((await firstHop({ domain_hint: 'gone.test' })).pathname).toBe('/login');
  });
});
