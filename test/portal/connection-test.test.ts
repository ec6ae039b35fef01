/**
 * The test mode of a connection sign-in, as the Admin Portal's "Test connection" uses it, with an OIDC connection
 * against a real OpenID Provider on loopback (oidc-provider): the round trip shows the normalized profile or the
 * reason of the failure, works for a draft connection, and signs nobody in (no session, no user, no membership).
 * Sign-in itself still refuses the draft. (The SAML test mode is driven in Chromium: portal.browser.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

let env: ListeningEnv;
let idp: UpstreamIdp;
let admin: string;
let orgId: string;
let connectionId: string;

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json();
}

/** A browser with a portal session for the organization's SSO setup. */
async function portalBrowser(organizationId = orgId): Promise<Browser> {
  const browser = new Browser();
  const link = await ok('POST', `/api/organizations/${organizationId}/portal-links`, { intent: 'sso' });
  const landed = await browser.follow(link.url);
  expect(landed.res.status).toBe(200);
  return browser;
}

beforeAll(async () => {
  env = await listeningEnv();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  idp = await startUpstreamIdp({ kind: 'google', redirectUris: [], redirectUriPattern: new RegExp(`^${env.base.replace(/[.]/g, '\\.')}/sso/oidc/[0-9a-f-]{36}/callback$`) });
  orgId = (await ok('POST', '/api/organizations', { displayName: 'Megacorp' })).id;
  connectionId = (await ok('POST', `/api/organizations/${orgId}/connections`, { type: 'oidc', displayName: 'Megacorp Google', settings: { issuer: idp.issuer, discoveryUrl: idp.discoveryUrl, clientId: idp.clientId }, clientSecret: idp.clientSecret })).id;
});
afterAll(async () => {
  await idp?.close();
  await env?.close();
});

describe('Test connection (OIDC)', () => {
  it('shows the normalized profile of a draft connection and signs nobody in', async () => {
    const browser = await portalBrowser();
    idp.nextLogin({ sub: 'g-ada', email: 'ada@megacorp.test', email_verified: true, given_name: 'Ada', family_name: 'Lovelace' });
    const done = await browser.follow(`${env.base}/portal/sso/connections/${connectionId}/test`);
    expect(done.url).toMatch(new RegExp(`/sso/oidc/${connectionId}/callback\\?`));
    const html = await done.res.text();
    expect(done.res.status, html).toBe(200);
    expect(html).toContain('Test succeeded');
    expect(html).toMatch(/<th scope="row">Email<\/th><td>ada@megacorp\.test<\/td>/);
    expect(html).toMatch(/<th scope="row">Family name<\/th><td>Lovelace<\/td>/);
    expect([...browser.cookies.keys()]).not.toContain('iam_session');
    expect(JSON.stringify(await ok('GET', '/api/users'))).not.toContain('ada@megacorp.test');
    expect((await ok('GET', `/api/organizations/${orgId}/members`)).items).toEqual([]);
    expect((await ok('GET', '/api/audit?action=signin.success')).items).toEqual([]);
    expect((await ok('GET', `/api/audit?action=connection.test&targetId=${connectionId}`)).items[0].after).toEqual({ outcome: 'success', subject: 'g-ada' });
    expect((await ok('GET', `/api/connections/${connectionId}`)).status).toBe('draft');
  });

  it('shows why it failed when the IdP refuses', async () => {
    const browser = await portalBrowser();
    idp.nextLogin('deny');
    const done = await browser.follow(`${env.base}/portal/sso/connections/${connectionId}/test`);
    const html = await done.res.text();
    expect(done.res.status, html).toBe(400);
    expect(html).toContain('Test failed');
    expect(html).toMatch(/<code id="test-reason">rejected<\/code>/);
    expect(html).toMatch(/access_denied/);
    expect((await ok('GET', `/api/audit?action=connection.test&targetId=${connectionId}`)).items[0].after).toMatchObject({ outcome: 'failure', reason: 'rejected' });
  });

  it('a draft connection still signs nobody in, and a test cannot be started for another organization', async () => {
    expect((await new Browser().request(`${env.base}/sso/oidc/${connectionId}/start?return_to=/`)).status).toBe(404);
    const otherOrg = (await ok('POST', '/api/organizations', { displayName: 'Other' })).id;
    const browser = await portalBrowser(otherOrg);
    expect((await browser.request(`${env.base}/portal/sso/connections/${connectionId}/test`)).status).toBe(404);
    // Without a portal session there is no test at all.
    expect((await new Browser().request(`${env.base}/portal/sso/connections/${connectionId}/test`)).status).toBe(401);
  });
});
