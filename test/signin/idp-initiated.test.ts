/**
 * IdP-initiated sign-in handed to the application (issue #11 item 6, OpenID Connect Core §4): a connection that names
 * an application with an `initiateLoginUri` sends IdP-initiated arrivals there with `iss`, `login_hint` and
 * `target_link_uri`; an unsolicited SAML response is validated in full first and never signs anyone in. The IdP here
 * is the built-in simulator (its unsolicited responses are signed like a real IdP's; our SP code checks them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapTokenHttp, httpApi } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { forTenant } from '../../src/platform/db.ts';
import { setUpDemoOrganization, simulatorUrls, type DemoOrganization } from '../../src/simulator/service.ts';

let env: ListeningEnv;
let admin: string;
let demo: DemoOrganization;
const INITIATE = 'https://app.example.com/start-login';

const { api } = httpApi(() => env.base, () => admin);

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const field = (html: string, name: string) => unescape(new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!);

/** An unsolicited, signed SAMLResponse for `email` from the simulator's IdP-initiated page. */
async function unsolicitedResponse(email: string): Promise<string> {
  const browser = new Browser();
  const page = await (await browser.request(`${env.base}/simulator/saml/idp-initiated?connection_id=${demo.saml.id}`)).text();
  const posted = await (await browser.request(`${env.base}/simulator/saml/sso`, { form: { request: field(page, 'request'), email } })).text();
  return field(posted, 'SAMLResponse');
}

const acs = (samlResponse: string, relayState?: string) =>
  new Browser().request(`${env.base}/sso/saml/${demo.saml.id}/acs`, { form: { SAMLResponse: samlResponse, ...(relayState !== undefined ? { RelayState: relayState } : {}) } });

async function handTo(clientId: string | undefined, connection = demo.saml) {
  const settings = { ...connection.settings, ...(clientId ? { idpInitiatedClientId: clientId } : {}) };
  if (!clientId) delete (settings as Record<string, unknown>).idpInitiatedClientId;
  const r = await api('PATCH', `/api/connections/${connection.id}`, { settings });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

beforeAll(async () => {
  env = await listeningEnv({ IDP_SIMULATOR: 'allow-anywhere' });
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  demo = await setUpDemoOrganization(forTenant(env.database.db, env.tenant.tenant.id), env.keys, env.tenant.tenant.issuer);
  const app = await api('PUT', '/api/downstream/InteractiveApplication/tile-app', { displayName: 'Tile app', allowedScopes: ['openid', 'email'], redirectUris: ['https://app.example.com/callback'], initiateLoginUri: INITIATE, clientSecret: 't'.repeat(40) });
  expect(app.status, JSON.stringify(app.body)).toBe(201);
  expect(app.body.initiateLoginUri).toBe(INITIATE);
  expect((await api('PUT', '/api/downstream/InteractiveApplication/plain-app', { displayName: 'Plain', allowedScopes: ['openid'], redirectUris: ['https://plain.example.com/cb'] })).status).toBe(201);
});
afterAll(async () => {
  await env?.close();
});

describe('initiateLoginUri on applications', () => {
  it('is an https URL (http only on loopback), without a fragment; kept and returned', async () => {
    for (const bad of ['javascript:alert(1)', 'http://app.example.com/start', 'https://app.example.com/start#x', 'not a url']) {
      const r = await api('PUT', '/api/downstream/InteractiveApplication/bad-app', { displayName: 'Bad', allowedScopes: ['openid'], initiateLoginUri: bad });
      expect(r.status, bad).toBe(400);
    }
    expect((await api('GET', '/api/downstream/InteractiveApplication/tile-app')).body.initiateLoginUri).toBe(INITIATE);
    expect((await api('GET', '/api/downstream/InteractiveApplication/plain-app')).body.initiateLoginUri).toBeNull();
  });
});

describe('an unsolicited SAML response', () => {
  it('goes, validated, to the application with iss, login_hint, target_link_uri (its origin only), connection_id and organization_id', async () => {
    await handTo('tile-app');
    const res = await acs(await unsolicitedResponse('ada@example.com'), 'https://app.example.com/reports?id=7');
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(INITIATE);
    expect(Object.fromEntries(to.searchParams)).toEqual({
      iss: env.tenant.tenant.issuer,
      login_hint: 'ada@example.com',
      target_link_uri: 'https://app.example.com/reports?id=7',
      connection_id: demo.saml.id,
      organization_id: demo.organization.id,
    });
    // Nobody was signed in: no session cookie, and the audit says where it went.
    expect(res.headers.getSetCookie().some((c) => /iam_session=[^;]/.test(c))).toBe(false);
    const trail = (await api('GET', `/api/audit?action=signin.idp_initiated&targetId=${demo.saml.id}`)).body.items;
    expect(trail[0].after).toMatchObject({ outcome: 'sent to application', clientId: 'tile-app', subject: 'ada@example.com' });
    expect((await api('GET', '/api/audit?action=signin.success')).body.items).toEqual([]);
  });

  it('a RelayState on another origin is dropped; the assertion is consumed (a replay is refused)', async () => {
    const response = await unsolicitedResponse('grace@example.org');
    const res = await acs(response, 'https://evil.test/steal');
    expect(new URL(res.headers.get('location')!).searchParams.has('target_link_uri')).toBe(false);
    const again = await acs(response);
    expect(again.status).toBe(400);
    const failure = (await api('GET', `/api/audit?action=signin.failure&targetId=${demo.saml.id}`)).body.items[0];
    expect(failure.after).toMatchObject({ reason: 'replayed', idpInitiated: true });
  });

  it('a response to another browser\'s request (it has an InResponseTo) is not taken for an unsolicited one', async () => {
    const browser = new Browser();
    const start = await browser.follow(`${env.base}/sso/saml/${demo.saml.id}/start?return_to=/`);
    const posted = await (await browser.request(`${env.base}/simulator/saml/sso`, { form: { request: field(await start.res.text(), 'request'), email: 'ada@example.com' } })).text();
    const res = await acs(field(posted, 'SAMLResponse'));
    expect(res.status).toBe(400);
    expect((await api('GET', `/api/audit?action=signin.failure&targetId=${demo.saml.id}`)).body.items[0].after).toMatchObject({ reason: 'in_response_to_mismatch', idpInitiated: true });
  });

  it('a forged one (the signed email changed) is refused, not handed on', async () => {
    const xml = Buffer.from(await unsolicitedResponse('ada@example.com'), 'base64').toString('utf8').replaceAll('ada@example.com', 'admin@example.com');
    const res = await acs(Buffer.from(xml).toString('base64'));
    expect(res.status).toBe(400);
    expect((await api('GET', `/api/audit?action=signin.failure&targetId=${demo.saml.id}`)).body.items[0].after).toMatchObject({ reason: 'signature_invalid' });
  });

  it('without an application (none named, or one with no initiateLoginUri): a fresh SP-initiated sign-in here', async () => {
    await handTo('plain-app');
    expect((await acs(await unsolicitedResponse('ada@example.com'))).headers.get('location')).toMatch(new RegExp(`/sso/saml/${demo.saml.id}/start`));
    await handTo('no-such-app');
    expect((await acs(await unsolicitedResponse('ada@example.com'))).headers.get('location')).toMatch(new RegExp(`/sso/saml/${demo.saml.id}/start`));
    await handTo(undefined);
    expect((await acs(await unsolicitedResponse('ada@example.com'))).headers.get('location')).toMatch(new RegExp(`/sso/saml/${demo.saml.id}/start`));
  });
});

describe('the OIDC initiate URI', () => {
  it('sends a third-party initiated login to the application; a wrong iss is still refused', async () => {
    await handTo('tile-app', demo.oidc);
    const initiate = (q: Record<string, string>) => fetch(`${env.base}/sso/oidc/${demo.oidc.id}/initiate?${new URLSearchParams(q)}`, { redirect: 'manual' });
    const res = await initiate({ iss: simulatorUrls(env.tenant.tenant.issuer).oidcIssuer, login_hint: 'ada@example.com', target_link_uri: 'https://app.example.com/home' });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({ iss: env.tenant.tenant.issuer, login_hint: 'ada@example.com', target_link_uri: 'https://app.example.com/home', connection_id: demo.oidc.id });
    expect((await initiate({ iss: 'https://other-idp.test' })).status).toBe(400);
    await handTo(undefined, demo.oidc);
    expect((await initiate({ login_hint: 'ada@example.com' })).headers.get('location')).toMatch(new RegExp(`^/sso/oidc/${demo.oidc.id}/start\\?`));
  });

  it('the application then starts an ordinary authorization request at the same connection', async () => {
    const url = `${env.base}/oauth2/authorize?response_type=code&client_id=tile-app&redirect_uri=https://app.example.com/callback&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&connection_id=${demo.saml.id}&login_hint=ada@example.com`;
    const first = await new Browser().request(url);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(new RegExp(`^/sso/saml/${demo.saml.id}/start\\?`));
  });
});
