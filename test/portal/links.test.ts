/**
 * Admin Portal links and sessions over HTTP (inject): a link opens one session, once, before it expires; the session
 * serves its organization and intent only; forms need the session's CSRF token; organization-scoped clients create
 * links for their own organization only; the framing policy is the tenant's (CSP frame-ancestors). The browser tests
 * (portal.browser.test.ts) drive the pages themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { selfSignedKeyPair } from '../support/saml-test-idp.ts';
import { apiFor, organizationClientToken, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;
let orgA: string;
let orgB: string;
let foreignOrg: string;
let clock = Date.now();

const cookieOf = (res: { headers: Record<string, unknown> }) =>
  ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | string | undefined) ?? [])
    .map((c) => c.split(';')[0]!)
    .filter((c) => c.startsWith('iam_portal='))
    .join('; ');

async function link(organizationId: string, intent = 'sso', as = api, body: Record<string, unknown> = {}) {
  const res = await as.call('POST', `/api/organizations/${organizationId}/portal-links`, { intent, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; url: string; expiresAt: string; intent: string };
}

function open(url: string, tenant: TestTenant = api.tenant) {
  const u = new URL(url);
  return env.app.inject({ url: u.pathname + u.search, headers: { host: tenant.host } });
}

async function session(organizationId: string, intent = 'sso'): Promise<string> {
  const res = await open((await link(organizationId, intent)).url);
  expect(res.statusCode, res.body).toBe(303);
  return cookieOf(res);
}

const page = (path: string, cookie: string, tenant: TestTenant = api.tenant) => env.app.inject({ url: path, headers: { host: tenant.host, cookie } });

beforeAll(async () => {
  env = await testEnv({}, { now: () => clock });
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  orgA = (await api.call('POST', '/api/organizations', { displayName: 'Acme' })).json().id;
  orgB = (await api.call('POST', '/api/organizations', { displayName: 'Bravo' })).json().id;
  foreignOrg = (await other.call('POST', '/api/organizations', { displayName: 'Elsewhere' })).json().id;
});
afterAll(() => env.close());

describe('portal links', () => {
  it('answers a one-time link that expires after five minutes, audited, and never returned again', async () => {
    const before = clock;
    const l = await link(orgA, 'dsync', api, { returnUrl: 'https://app.example.com/settings' });
    expect(l.url).toMatch(new RegExp(`^${api.tenant.tenant.issuer}/portal/launch\\?token=[A-Za-z0-9_-]{43}$`));
    expect(Date.parse(l.expiresAt) - before).toBe(300_000);
    const audit = (await api.call('GET', `/api/audit?action=portal.link.create&targetId=${orgA}`)).json().items;
    expect(audit[0].after).toMatchObject({ linkId: l.id, intent: 'dsync', returnUrl: 'https://app.example.com/settings' });
    expect(JSON.stringify(audit)).not.toContain(new URL(l.url).searchParams.get('token'));
  });

  it('opens a session once: the second opening is refused (410) and audited', async () => {
    const l = await link(orgA);
    const first = await open(l.url);
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe('/portal/sso');
    expect(first.headers['set-cookie']).toMatch(/^iam_portal=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Lax$/);
    const again = await open(l.url);
    expect(again.statusCode).toBe(410);
    expect(again.body).toContain('already used');
    expect(cookieOf(again)).toBe('');
    const refused = (await api.call('GET', `/api/audit?action=portal.link.refused&targetId=${orgA}`)).json().items;
    expect(refused[0].after).toMatchObject({ linkId: l.id, reason: 'used' });
    const started = (await api.call('GET', `/api/audit?action=portal.session.start&targetId=${orgA}`)).json().items;
    expect(started.filter((e: { after: { linkId: string } }) => e.after.linkId === l.id)).toHaveLength(1);
  });

  it('refuses a link opened after it expired, and a made-up token', async () => {
    const l = await link(orgA);
    clock += 300_001;
    const late = await open(l.url);
    expect(late.statusCode).toBe(410);
    expect(late.body).toContain('expired');
    const refused = (await api.call('GET', `/api/audit?action=portal.link.refused&targetId=${orgA}`)).json().items;
    expect(refused[0].after).toMatchObject({ linkId: l.id, reason: 'expired' });
    expect((await open(`${api.tenant.tenant.issuer}/portal/launch?token=${'x'.repeat(43)}`)).statusCode).toBe(404);
    expect((await open(`${api.tenant.tenant.issuer}/portal/launch`)).statusCode).toBe(404);
  });

  it("is refused for an unknown organization, another tenant's organization, and an unknown intent", async () => {
    expect((await api.call('POST', `/api/organizations/${foreignOrg}/portal-links`, { intent: 'sso' })).statusCode).toBe(404);
    expect((await api.call('POST', '/api/organizations/00000000-0000-4000-8000-000000000000/portal-links', { intent: 'sso' })).statusCode).toBe(404);
    expect((await api.call('POST', `/api/organizations/${orgA}/portal-links`, { intent: 'billing' })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/organizations/${orgA}/portal-links`, { intent: 'sso', returnUrl: 'javascript:alert(1)' })).statusCode).toBe(400);
  });

  it("a link of another tenant does not open here", async () => {
    const l = await link(foreignOrg, 'sso', other);
    expect((await open(l.url, api.tenant)).statusCode).toBe(404);
    // …and is still unused at home.
    expect((await open(l.url, other.tenant)).statusCode).toBe(303);
  });

  it('an organization-scoped machine client creates links for its own organization only', async () => {
    const token = await organizationClientToken(env, api, 'acme-portal', orgA);
    const as = (org: string) =>
      env.app.inject({ method: 'POST', url: `/api/organizations/${org}/portal-links`, headers: { host: api.tenant.host, authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify({ intent: 'domain_verification' }) });
    expect((await as(orgA)).statusCode).toBe(201);
    expect((await as(orgB)).statusCode).toBe(404);
    const settings = await env.app.inject({ method: 'PUT', url: '/api/portal/settings', headers: { host: api.tenant.host, authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify({ frameAncestors: ['https://evil.example'] }) });
    expect(settings.statusCode).toBe(403);
  });
});

describe('portal sessions', () => {
  it('serve their intent only', async () => {
    const cookie = await session(orgA, 'sso');
    expect((await page('/portal/sso', cookie)).statusCode).toBe(200);
    for (const path of ['/portal/dsync', '/portal/domains', '/portal/certificates']) expect((await page(path, cookie)).statusCode, path).toBe(403);
  });

  it("do not reach another organization's connection, or another tenant", async () => {
    const c = await api.call('POST', `/api/organizations/${orgB}/connections`, { type: 'oidc', displayName: 'Bravo Okta', settings: { issuer: 'https://bravo.okta.example', clientId: 'b' } });
    expect(c.statusCode, c.body).toBe(201);
    const cookie = await session(orgA, 'sso');
    const res = await page(`/portal/sso/connections/${c.json().id}`, cookie);
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('Bravo Okta');
    expect((await page(`/portal/sso/connections/${c.json().id}/test`, cookie)).statusCode).toBe(404);
    // Nor does a form post change another organization's SAML connection (request signing, encrypted assertions).
    const saml = await api.call('POST', `/api/organizations/${orgB}/connections`, { type: 'saml', displayName: 'Bravo SAML', settings: { idpEntityId: 'https://bravo.idp.example', idpSsoUrl: 'https://bravo.idp.example/sso', idpCertificates: [selfSignedKeyPair('bravo').cert] } });
    expect(saml.statusCode, saml.body).toBe(201);
    const csrf = /name="csrf" value="([^"]+)"/.exec((await page('/portal/sso', cookie)).body)![1]!;
    const post = await env.app.inject({ method: 'POST', url: `/portal/sso/connections/${saml.json().id}/security`, headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `csrf=${encodeURIComponent(csrf)}&signAuthnRequest=on` });
    expect(post.statusCode).toBe(404);
    expect((await api.call('GET', `/api/connections/${saml.json().id}`)).json().settings.signAuthnRequest).toBe(false);
    // The same cookie at another tenant's host is nobody's session.
    expect((await page('/portal/sso', cookie, other.tenant)).statusCode).toBe(401);
  });

  it('without a session, pages answer 401', async () => {
    expect((await page('/portal/sso', '')).statusCode).toBe(401);
    expect((await page('/portal/sso', 'iam_portal=' + 'y'.repeat(43))).statusCode).toBe(401);
  });

  it('end after an hour, and when ended by the administrator', async () => {
    const cookie = await session(orgA, 'domain_verification');
    const home = await page('/portal/domains', cookie);
    const csrf = /name="csrf" value="([^"]+)"/.exec(home.body)![1]!;
    const end = await env.app.inject({ method: 'POST', url: '/portal/end', headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `csrf=${encodeURIComponent(csrf)}` });
    expect(end.statusCode).toBe(200);
    expect((await page('/portal/domains', cookie)).statusCode).toBe(401);
    const later = await session(orgA, 'domain_verification');
    expect((await page('/portal/domains', later)).statusCode).toBe(200);
    clock += 3_600_000;
    expect((await page('/portal/domains', later)).statusCode).toBe(401);
  });

  it('refuse form posts without the CSRF token, or from another site', async () => {
    const cookie = await session(orgA, 'domain_verification');
    const csrf = /name="csrf" value="([^"]+)"/.exec((await page('/portal/domains', cookie)).body)![1]!;
    const post = (payload: string, headers: Record<string, string> = {}) =>
      env.app.inject({ method: 'POST', url: '/portal/domains', headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload });
    expect((await post('domain=acme-portal.example')).statusCode).toBe(400);
    expect((await post(`domain=acme-portal.example&csrf=${encodeURIComponent(csrf)}`, { origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await post(`domain=acme-portal.example&csrf=${encodeURIComponent(csrf)}`, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect((await api.call('GET', `/api/organizations/${orgA}/domains`)).json().items).toEqual([]);
    const ok = await post(`domain=acme-portal.example&csrf=${encodeURIComponent(csrf)}`);
    expect(ok.statusCode).toBe(303);
    const domains = (await api.call('GET', `/api/organizations/${orgA}/domains`)).json().items;
    expect(domains.map((d: { domain: string }) => d.domain)).toEqual(['acme-portal.example']);
    // The change is the portal link's, in the audit trail.
    const added = (await api.call('GET', `/api/audit?action=organization.domain.add`)).json().items[0];
    expect(added.actor).toEqual({ type: 'system', id: expect.stringMatching(/^portal:[0-9a-f-]{36}$/) });
  });

  it('a client mistake in a form is a 400 page, never a 500', async () => {
    const cookie = await session(orgA, 'domain_verification');
    const csrf = /name="csrf" value="([^"]+)"/.exec((await page('/portal/domains', cookie)).body)![1]!;
    const res = await env.app.inject({ method: 'POST', url: '/portal/domains', headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `domain=not%20a%20domain&csrf=${encodeURIComponent(csrf)}` });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('role="alert"');
  });
});

describe('SSO setup from the IdP\'s metadata', () => {
  it('imports the metadata XML into a new connection; a hostile document, or both URL and XML, is a 400 page with the reason', async () => {
    const cookie = await session(orgA, 'sso');
    const form = (await page('/portal/sso/new/saml', cookie)).body;
    expect(form).toContain('Import metadata and save');
    const csrf = /name="csrf" value="([^"]+)"/.exec(form)![1]!;
    const post = (fields: Record<string, string>) =>
      env.app.inject({ method: 'POST', url: '/portal/sso/new/saml/metadata', headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ csrf, ...fields }).toString() });
    const { cert } = selfSignedKeyPair('idp.portal.example');
    const xml = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.portal.example/saml"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>${cert.replace(/-----[^-]+-----|\s/g, '')}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.portal.example/sso"/></IDPSSODescriptor></EntityDescriptor>`;
    const before = (await api.call('GET', `/api/organizations/${orgA}/connections`)).json().items.length;
    for (const [fields, reason] of [
      [{ metadataName: 'X', metadataXml: `<!DOCTYPE x [<!ENTITY a "a">]>${xml}` }, 'DOCTYPE'],
      [{ metadataName: 'X', metadataXml: xml, metadataUrl: 'https://idp.portal.example/metadata' }, 'either the metadata URL or the metadata XML'],
      [{ metadataName: 'X' }, 'either the metadata URL or the metadata XML'],
      [{ metadataName: 'X', metadataUrl: 'https://169.254.169.254/latest/meta-data' }, 'metadata URL could not be read'],
    ] as const) {
      const res = await post(fields);
      expect(res.statusCode, JSON.stringify(fields).slice(0, 60)).toBe(400);
      expect(res.body).toContain(reason);
    }
    expect((await api.call('GET', `/api/organizations/${orgA}/connections`)).json().items.length).toBe(before);
    const ok = await post({ metadataName: 'Portal SAML', metadataXml: xml });
    expect(ok.statusCode, ok.body).toBe(303);
    const created = (await api.call('GET', `/api/organizations/${orgA}/connections`)).json().items.find((c: { displayName: string }) => c.displayName === 'Portal SAML');
    expect(created.settings).toMatchObject({ idpEntityId: 'https://idp.portal.example/saml', idpSsoUrl: 'https://idp.portal.example/sso' });
    expect(created.settings.idpCertificates).toHaveLength(1);
    expect(ok.headers.location).toBe(`/portal/sso/connections/${created.id}?done=created`);
  });
});

describe('framing', () => {
  it("is refused by default (frame-ancestors 'none', X-Frame-Options DENY), and allowed for registered origins", async () => {
    const cookie = await session(orgA, 'sso');
    const denied = await page('/portal/sso', cookie);
    expect(denied.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(denied.headers['x-frame-options']).toBe('DENY');
    expect(denied.headers['content-security-policy']).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);

    expect((await api.call('PUT', '/api/portal/settings', { frameAncestors: ['https://app.example.com/path'] })).statusCode).toBe(400);
    expect((await api.call('PUT', '/api/portal/settings', { frameAncestors: ['http://app.example.com'] })).statusCode).toBe(400);
    expect((await api.call('PUT', '/api/portal/settings', { frameAncestors: ['https://*.example.com'] })).statusCode).toBe(400);
    const put = await api.call('PUT', '/api/portal/settings', { frameAncestors: ['https://app.example.com', 'http://localhost:5173'] });
    expect(put.statusCode, put.body).toBe(200);
    expect((await api.call('GET', '/api/portal/settings')).json()).toEqual({ frameAncestors: ['https://app.example.com', 'http://localhost:5173'] });
    const allowed = await page('/portal/sso', cookie);
    expect(allowed.headers['content-security-policy']).toContain('frame-ancestors https://app.example.com http://localhost:5173;');
    expect(allowed.headers['x-frame-options']).toBeUndefined();
    const audit = (await api.call('GET', '/api/audit?action=portal.settings.update')).json().items;
    expect(audit[0].after).toEqual({ frameAncestors: ['https://app.example.com', 'http://localhost:5173'] });
    // Another tenant's portal is not affected.
    const elsewhere = await open((await link(foreignOrg, 'sso', other)).url, other.tenant);
    const otherPage = await page('/portal/sso', cookieOf(elsewhere), other.tenant);
    expect(otherPage.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    await api.call('PUT', '/api/portal/settings', { frameAncestors: [] });
  });
});
