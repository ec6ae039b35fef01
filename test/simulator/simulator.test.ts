/**
 * The built-in IdP simulator (issue #11 item 8) through our real HTTP surface: the test organization it sets up, a
 * whole SAML and OIDC sign-in through `/oauth2/authorize` ending in tokens with `org_id` (our SP and generic-OIDC
 * code doing all the checking), and the simulator refusing to answer anything that is not one of this tenant's
 * simulator connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import * as client from 'openid-client';
import { authorizationRequest, bootstrapTokenHttp, httpApi } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { newTenant } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';
import { SIMULATOR_CLIENT_ID, setUpDemoOrganization, simulatorUrls, type DemoOrganization } from '../../src/simulator/service.ts';

let env: ListeningEnv;
let admin: string;
let demo: DemoOrganization;
const APP_REDIRECT = 'https://app.example.com/callback';
const APP_SECRET = 's'.repeat(40);

const { api } = httpApi(() => env.base, () => admin);

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The page's first POST form: its action and fields, with `fields` typed over them, submitted. */
async function submit(browser: Browser, pageUrl: string, html: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no form in ${html.slice(0, 500)}`);
  const values: Record<string, string> = {};
  // Every field with its value as the page shows it, as a browser would send it.
  for (const m of form[2]!.matchAll(/<input[^>]* name="([^"]+)" value="([^"]*)"/g)) values[m[1]!] = unescape(m[2]!);
  return browser.request(new URL(unescape(form[1]!), pageUrl).toString(), { form: { ...values, ...fields } });
}

const authorize = (params: Record<string, string>) => authorizationRequest(env.base, { clientId: 'sim-app', secret: APP_SECRET, redirectUri: APP_REDIRECT }, params);

/** Follows redirects to the simulator's page and returns it. */
async function toSimulatorPage(browser: Browser, start: string) {
  const at = await browser.follow(start);
  expect(at.res.status, at.url).toBe(200);
  expect(at.url).toContain('/simulator/');
  return { url: at.url, html: await at.res.text() };
}

beforeAll(async () => {
  env = await listeningEnv({ IDP_SIMULATOR: 'allow-anywhere' });
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  demo = await setUpDemoOrganization(forTenant(env.database.db, env.tenant.tenant.id), env.keys, env.tenant.tenant.issuer);
  expect((await api('PUT', '/api/downstream/InteractiveApplication/sim-app', { displayName: 'App', allowedScopes: ['openid', 'profile', 'email'], redirectUris: [APP_REDIRECT], clientSecret: APP_SECRET })).status).toBe(201);
});
afterAll(async () => {
  await env?.close();
});

describe('the test organization', () => {
  it('has example.com and example.org verified and an active SAML then OIDC connection; setting up again changes nothing', async () => {
    const again = await setUpDemoOrganization(forTenant(env.database.db, env.tenant.tenant.id), env.keys, env.tenant.tenant.issuer);
    expect(again.organization.id).toBe(demo.organization.id);
    expect([again.saml.id, again.oidc.id]).toEqual([demo.saml.id, demo.oidc.id]);
    const domains = (await api('GET', `/api/organizations/${demo.organization.id}/domains`)).body.items;
    expect(domains.map((d: { domain: string; status: string }) => `${d.domain}:${d.status}`).toSorted()).toEqual(['example.com:verified', 'example.org:verified']);
    const connections = (await api('GET', `/api/organizations/${demo.organization.id}/connections`)).body.items;
    expect(connections.map((c: { type: string; status: string }) => `${c.type}:${c.status}`)).toEqual(['saml:active', 'oidc:active']);
    expect((await api('GET', '/api/connections?domain=example.org')).body).toMatchObject({ sso: true, organizationId: demo.organization.id });
    const audit = (await api('GET', `/api/audit?targetId=${demo.organization.id}`)).body.items;
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((e: { actor: { id: string } }) => e.actor.id === 'idp-simulator')).toBe(true);
  });

  it('its SAML metadata imports as a connection (the README walk-through)', async () => {
    const org = (await api('POST', '/api/organizations', { displayName: 'Walk-through Org' })).body;
    const c = await api('POST', `/api/organizations/${org.id}/connections`, { type: 'saml', displayName: 'Simulator', metadata: { url: `${env.base}/simulator/saml/metadata` } });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    expect(c.body.settings).toMatchObject({ idpEntityId: simulatorUrls(env.tenant.tenant.issuer).samlEntityId, idpSsoUrl: simulatorUrls(env.tenant.tenant.issuer).samlSsoUrl });
    expect(c.body.settings.idpCertificates).toEqual(demo.saml.settings.idpCertificates);
  });
});

describe('sign-in through the simulator', () => {
  it('SAML: organization_id → the simulator page → signed Response → ACS → tokens with org_id for a new member', async () => {
    const { config, verifier, state, url } = await authorize({ organization_id: demo.organization.id });
    const browser = new Browser();
    const page = await toSimulatorPage(browser, url.toString());
    expect(page.url).toContain('/simulator/saml/sso?SAMLRequest=');
    expect(page.html).toContain('IdP Simulator (SAML)');
    const posted = await submit(browser, page.url, page.html, { email: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', groups: 'eng, ops' });
    expect(posted.status).toBe(200);
    const postPage = await posted.text();
    expect(postPage).toContain(`action="${env.base}/sso/saml/${demo.saml.id}/acs"`);
    const acs = await submit(browser, page.url, postPage);
    expect(acs.status).toBe(303);
    const done = await browser.follow(new URL(acs.headers.get('location')!, env.base).toString(), (u) => u.startsWith(APP_REDIRECT));
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ org_id: demo.organization.id, org_roles: ['member'], email: 'ada@example.com' });
    const user = (await api('GET', `/api/users/${tokens.claims()!.sub}`)).body;
    expect(user).toMatchObject({ email: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace' });
  });

  it('OIDC: connection_id → the simulator page → code → our callback exchanges it → tokens with org_id', async () => {
    const { config, verifier, state, url } = await authorize({ connection_id: demo.oidc.id, login_hint: 'grace@example.org' });
    const browser = new Browser();
    const page = await toSimulatorPage(browser, url.toString());
    expect(page.url).toContain('/simulator/oidc/authorize?');
    expect(page.html).toContain('value="grace@example.org"');
    const answered = await submit(browser, page.url, page.html, { givenName: 'Grace', familyName: 'Hopper' });
    expect(answered.status).toBe(303);
    expect(answered.headers.get('location')).toMatch(new RegExp(`^${env.base}/sso/oidc/${demo.oidc.id}/callback\\?code=`));
    const done = await browser.follow(answered.headers.get('location')!, (u) => u.startsWith(APP_REDIRECT));
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ org_id: demo.organization.id, org_roles: ['member'], email: 'grace@example.org' });
  });

  it('an address outside the verified domains is not admitted (the connection\'s JIT policy decides, not the simulator)', async () => {
    // Also a look-alike of a verified domain: Cyrillic "а" in exаmple.com, and fullwidth "ｅ".
    for (const email of ['mallory@evil.test', 'mallory@ex\u0430mple.com', 'mallory@\uff45xample.org']) {
      const browser = new Browser();
      const page = await toSimulatorPage(browser, `${env.base}/sso/saml/${demo.saml.id}/start?return_to=/`);
      const postPage = await (await submit(browser, page.url, page.html, { email })).text();
      const acs = await submit(browser, page.url, postPage);
      expect(acs.status, email).toBe(403);
      const users = await api('GET', `/api/users?email=${encodeURIComponent(email)}`);
      expect([users.status, users.body.items]).toEqual([200, []]);
    }
  });

  it('an IdP-initiated response is never a login: the service starts SP-initiated at the same connection', async () => {
    const browser = new Browser();
    const page = await browser.request(`${env.base}/simulator/saml/idp-initiated?connection_id=${demo.saml.id}`);
    const html = await page.text();
    expect(html).toContain('IdP-initiated');
    const postPage = await (await submit(browser, env.base, html, { email: 'ada@example.com' })).text();
    expect(postPage).not.toContain('InResponseTo');
    const acs = await submit(browser, env.base, postPage);
    expect(acs.status).toBe(303);
    expect(acs.headers.get('location')).toMatch(new RegExp(`/sso/saml/${demo.saml.id}/start`));
  });
});

describe('a connection that signs its requests and wants encrypted assertions', () => {
  it('the simulator checks the request signature and encrypts to the connection\'s certificate; our SP decrypts it', async () => {
    const c = (await api('POST', `/api/organizations/${demo.organization.id}/connections`, {
      type: 'saml',
      displayName: 'Signed and encrypted',
      settings: { ...demo.saml.settings, signAuthnRequest: true, wantAssertionsEncrypted: true },
    })).body;
    expect((await api('POST', `/api/connections/${c.id}/activate`, {})).status).toBe(200);
    const browser = new Browser();
    const page = await toSimulatorPage(browser, `${env.base}/sso/saml/${c.id}/start?return_to=/after`);
    expect(new URL(page.url).searchParams.get('Signature')).toBeTruthy();
    const postPage = await (await submit(browser, page.url, page.html, { email: 'enc@example.com' })).text();
    const xml = Buffer.from(unescape(/name="SAMLResponse" value="([^"]+)"/.exec(postPage)![1]!), 'base64').toString('utf8');
    expect(xml).toContain('EncryptedAssertion');
    expect(xml).not.toContain('enc@example.com');
    const acs = await submit(browser, page.url, postPage);
    expect(acs.status, await acs.clone().text()).toBe(303);
    expect(acs.headers.get('location')).toMatch(/after/);

    // A request whose signature was tampered with, or stripped, is not answered.
    const start = await new Browser().request(`${env.base}/sso/saml/${c.id}/start?return_to=/`);
    const to = new URL(start.headers.get('location')!);
    const raw = start.headers.get('location')!.slice(start.headers.get('location')!.indexOf('?') + 1);
    const sig = to.searchParams.get('Signature')!;
    const flipped = raw.replace(encodeURIComponent(sig), encodeURIComponent((sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)));
    expect((await fetch(`${env.base}/simulator/saml/sso?${flipped}`)).status).toBe(400);
    const stripped = raw.split('&').filter((p) => !p.startsWith('Signature=') && !p.startsWith('SigAlg=')).join('&');
    expect((await fetch(`${env.base}/simulator/saml/sso?${stripped}`)).status).toBe(400);
    expect((await fetch(`${env.base}/simulator/saml/sso?${raw}`)).status).toBe(200);
    await api('DELETE', `/api/connections/${c.id}`);
  });
});

describe('what the simulator refuses', () => {
  const authnRequest = (issuer: string, acs?: string, extra = '') =>
    Buffer.from(
      deflateRawSync(
        `${extra}<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc123" Version="2.0" IssueInstant="${new Date().toISOString()}"${acs ? ` AssertionConsumerServiceURL="${acs}"` : ''}><saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`,
      ),
    ).toString('base64');
  const sso = (encoded: string) => fetch(`${env.base}/simulator/saml/sso?SAMLRequest=${encodeURIComponent(encoded)}`);

  it('AuthnRequests from anything but this tenant\'s simulator connections, or naming another ACS', async () => {
    const entity = `${env.base}/sso/saml/${demo.saml.id}/metadata`;
    expect((await sso(authnRequest(entity, `${env.base}/sso/saml/${demo.saml.id}/acs`))).status).toBe(200);
    const refused = [
      authnRequest('https://sp.evil.test/metadata', 'https://sp.evil.test/acs'),
      authnRequest(entity, 'https://sp.evil.test/acs'),
      authnRequest(`${env.base}/sso/saml/00000000-0000-4000-8000-000000000000/metadata`),
      authnRequest(entity, undefined, '<!DOCTYPE x [<!ENTITY e "e">]>'),
      Buffer.from('not deflated').toString('base64'),
      '',
    ];
    for (const r of refused) {
      const res = await sso(r);
      expect(res.status, r).toBe(400);
      expect(await res.text()).toContain('cannot answer this request');
    }
    // A SAML connection of this tenant whose IdP is someone else: the simulator does not sign for it.
    const other = (await api('POST', `/api/organizations/${demo.organization.id}/connections`, { type: 'saml', displayName: 'Real IdP', settings: { idpEntityId: 'https://idp.real.test', idpSsoUrl: 'https://idp.real.test/sso', idpCertificates: demo.saml.settings.idpCertificates } })).body;
    expect((await sso(authnRequest(`${env.base}/sso/saml/${other.id}/metadata`))).status).toBe(400);
    await api('DELETE', `/api/connections/${other.id}`);
  });

  it('a tampered, foreign-tenant or missing sealed request is refused', async () => {
    const browser = new Browser();
    const page = await toSimulatorPage(browser, `${env.base}/sso/saml/${demo.saml.id}/start?return_to=/`);
    const sealed = unescape(/name="request" value="([^"]+)"/.exec(page.html)![1]!);
    const post = (request: string) => browser.request(`${env.base}/simulator/saml/sso`, { form: { request, email: 'ada@example.com' } });
    expect((await post(sealed)).status).toBe(200);
    // A character in the middle (the last one may only carry base64 padding bits, which decode to the same bytes).
    const at = Math.floor(sealed.length / 2);
    expect((await post(sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1))).status).toBe(400);
    expect((await post('')).status).toBe(400);
    // The same sealed request at another tenant's simulator does not open (sealing is bound to the tenant).
    const other = await newTenant(env.database, env.keys, { host: `other-${Date.now()}.test`, issuer: 'http://other.test' });
    const res = await env.app.inject({ method: 'POST', url: '/simulator/saml/sso', headers: { host: other.host, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ request: sealed, email: 'ada@example.com' }).toString() });
    expect(res.statusCode).toBe(400);
    // Bad input on the page: a malformed address, control characters.
    expect((await browser.request(`${env.base}/simulator/saml/sso`, { form: { request: sealed, email: 'not-an-address' } })).status).toBe(400);
    expect((await browser.request(`${env.base}/simulator/saml/sso`, { form: { request: sealed, email: 'ada@example.com', givenName: 'A\u202Eda' } })).status).toBe(400);
    // Another site's form post.
    const cross = await fetch(`${env.base}/simulator/saml/sso`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.test' }, body: new URLSearchParams({ request: sealed, email: 'ada@example.com' }) });
    expect(cross.status).toBe(400);
  });

  it('OIDC authorization requests for another client, a foreign redirect URI or without PKCE', async () => {
    const good = { client_id: SIMULATOR_CLIENT_ID, redirect_uri: `${env.base}/sso/oidc/${demo.oidc.id}/callback`, response_type: 'code', scope: 'openid', state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    const at = (q: Record<string, string>) => fetch(`${env.base}/simulator/oidc/authorize?${new URLSearchParams(q)}`);
    expect((await at(good)).status).toBe(200);
    for (const bad of [{ client_id: 'other' }, { redirect_uri: 'https://evil.test/callback' }, { redirect_uri: `${env.base}/sso/oidc/${demo.saml.id}/callback` }, { code_challenge_method: 'plain' }, { response_type: 'token' }, { scope: 'email' }]) {
      expect((await at({ ...good, ...bad })).status, JSON.stringify(bad)).toBe(400);
    }
  });

  it('the token endpoint: a wrong secret, a forged code, another redirect URI or verifier (RFC 6749 §5.2)', async () => {
    const verifier = 'v'.repeat(43);
    const challenge = (await import('node:crypto')).createHash('sha256').update(verifier).digest('base64url');
    const redirectUri = `${env.base}/sso/oidc/${demo.oidc.id}/callback`;
    const browser = new Browser();
    const page = await browser.request(`${env.base}/simulator/oidc/authorize?${new URLSearchParams({ client_id: SIMULATOR_CLIENT_ID, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' })}`);
    const answered = await submit(browser, env.base, await page.text(), { email: 'ada@example.com' });
    const code = new URL(answered.headers.get('location')!).searchParams.get('code')!;
    // The simulator's secret is sealed in its connection; read it as our callback does.
    const { connectionClientSecret } = await import('../../src/connections/service.ts');
    const secret = (await connectionClientSecret(forTenant(env.database.db, env.tenant.tenant.id), env.keys, demo.oidc.id))!;
    const token = (form: Record<string, string>) => fetch(`${env.base}/simulator/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', client_id: SIMULATOR_CLIENT_ID, client_secret: secret, code, redirect_uri: redirectUri, code_verifier: verifier, ...form }) });
    const wrongSecret = await token({ client_secret: 'x'.repeat(43) });
    expect([wrongSecret.status, (await wrongSecret.json()).error]).toEqual([401, 'invalid_client']);
    const mid = Math.floor(code.length / 2);
    const forged = code.slice(0, mid) + (code[mid] === 'A' ? 'B' : 'A') + code.slice(mid + 1);
    for (const bad of [{ code: forged }, { redirect_uri: 'https://evil.test/cb' }, { code_verifier: 'w'.repeat(43) }] as Record<string, string>[]) {
      const res = await token(bad);
      expect([res.status, (await res.json()).error], JSON.stringify(bad)).toEqual([400, 'invalid_grant']);
    }
    // Not a form, or a NUL in it: RFC 6749 §5.2 JSON, not an HTML page.
    for (const [body, type] of [[JSON.stringify({ grant_type: 'authorization_code', code }), 'application/json'], [`grant_type=authorization_code&code=a%00b`, 'application/x-www-form-urlencoded']]) {
      const res = await fetch(`${env.base}/simulator/oidc/token`, { method: 'POST', headers: { 'content-type': type! }, body });
      expect([res.status, res.headers.get('content-type')?.split(';')[0], (await res.json()).error]).toEqual([400, 'application/json', 'invalid_request']);
    }
    const ok = await token({});
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String) });
  });
});

describe('enabling it', () => {
  it('is refused as `on` anywhere but the embedded single-tenant laptop; `allow-anywhere` is the explicit opt-in', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(() => loadConfig({ IDP_SIMULATOR: 'on', DATABASE_URL: 'postgres://x/y', MASTER_KEY: key })).toThrow(ConfigError);
    expect(() => loadConfig({ IDP_SIMULATOR: 'on', TENANCY_MODE: 'multi' })).toThrow(/IDP_SIMULATOR/);
    expect(loadConfig({ IDP_SIMULATOR: 'on' }).IDP_SIMULATOR).toBe('on');
    expect(loadConfig({ IDP_SIMULATOR: 'allow-anywhere', DATABASE_URL: 'postgres://x/y', MASTER_KEY: key }).IDP_SIMULATOR).toBe('allow-anywhere');
    expect(loadConfig({}).IDP_SIMULATOR).toBe('off');
    expect(() => loadConfig({ IDP_SIMULATOR: 'yes' })).toThrow(ConfigError);
  });

  it('off (the default): there is no simulator at all', async () => {
    const { testEnv } = await import('../support/app.ts');
    const plain = await testEnv();
    try {
      const t = await plain.newTenant();
      for (const url of ['/simulator/saml/metadata', '/simulator/oidc/.well-known/openid-configuration']) {
        expect((await plain.app.inject({ method: 'GET', url, headers: { host: t.host } })).statusCode).toBe(404);
      }
    } finally {
      await plain.close();
    }
  });
});
