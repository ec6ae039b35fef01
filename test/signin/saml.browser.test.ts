/**
 * Enterprise SSO as a person meets it (issue #11 item 5), in headless Chromium: an application sends the browser to
 * `/authorize`; on `/login` the person types an email at Acme's verified domain and is sent to Acme's SAML IdP (a
 * loopback IdP that signs its own responses, never our SP code); back at the ACS they are signed in, made a member,
 * and the application's code exchange (openid-client) yields tokens carrying `org_id`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import * as client from 'openid-client';
import { launchChromium } from '../support/browser.ts';
import { authorizationRequest, bootstrapTokenHttp } from '../support/http.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startSamlTestIdp, type SamlTestIdp } from '../support/saml-test-idp.ts';

const REDIRECT = 'https://app.example.com/callback';
let env: ListeningEnv;
let idp: SamlTestIdp;
let browser: Browser;
let admin: string;
let orgId: string;
const outside: string[] = [];

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

beforeAll(async () => {
  env = await listeningEnv();
  idp = await startSamlTestIdp();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  orgId = (await call('POST', '/api/organizations', { displayName: 'Acme Corporation' })).json.id;
  const domain = (await call('POST', `/api/organizations/${orgId}/domains`, { domain: 'acme.test' })).json;
  expect((await call('POST', `/api/organizations/${orgId}/domains/${domain.id}/mark-verified`, {})).status).toBe(200);
  const c = await call('POST', `/api/organizations/${orgId}/connections`, {
    type: 'saml',
    displayName: 'Acme IdP',
    settings: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCertificates: [idp.keys.cert] },
    defaultOrganizationRoles: ['member'],
  });
  expect(c.status, c.text).toBe(201);
  expect((await call('POST', `/api/connections/${c.json.id}/activate`, {})).status).toBe(200);
  expect((await call('PUT', '/api/downstream/InteractiveApplication/acme-app', { displayName: 'Acme app', allowedScopes: ['openid', 'email', 'profile'], redirectUris: [REDIRECT], clientSecret: 'a'.repeat(40) })).status).toBe(201);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await env?.close();
  expect(outside).toEqual([]);
});

it('/login with an email at a verified domain → the SAML IdP → back → the application gets tokens with org_id', async () => {
  const { config, verifier, state, url } = await authorizationRequest(env.base, { clientId: 'acme-app', secret: 'a'.repeat(40), redirectUri: REDIRECT }, {});

  const context = await browser.newContext();
  let callback: string | undefined;
  const idpOrigin = new URL(idp.ssoUrl).origin;
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(env.base) || u.startsWith(idpOrigin)) return route.continue();
    // The application's redirect URI: where the code arrives.
    if (u.startsWith(REDIRECT)) {
      callback = u;
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>App</title><p>signed in</p>' });
    }
    outside.push(u);
    return route.abort();
  });
  const page = await context.newPage();
  await page.goto(url.toString());
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  // Only the email: an address at an SSO domain needs no password here (home-realm discovery).
  await page.getByLabel('Email').fill(idp.user.email);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Test identity provider' }).waitFor();
  expect(page.url().startsWith(idp.ssoUrl)).toBe(true);
  await page.getByRole('button', { name: `Continue as ${idp.user.givenName}` }).click();
  await page.waitForURL((u) => u.toString().startsWith(REDIRECT));
  expect(callback).toBeDefined();

  const tokens = await client.authorizationCodeGrant(config, new URL(callback!), { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
  const claims = tokens.claims()!;
  expect(claims).toMatchObject({ email: idp.user.email, org_id: orgId, org_roles: ['member'] });
  // Made a member of Acme by the connection's just-in-time rule (verified domain), with the default roles.
  const members = (await call('GET', `/api/organizations/${orgId}/members`)).json.items as { userId: string; roles: string[]; status: string }[];
  expect(members.find((m) => m.userId === claims.sub)).toMatchObject({ roles: ['member'], status: 'active' });
  await context.close();
}, 90_000);
