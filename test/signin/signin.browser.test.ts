/**
 * The Bizzkit seed's last step in a real browser (headless Chromium): the administrator created through /api signs in
 * at /login through the upstream provider's own login page, comes back to /signin-azuread<id>, the downstream
 * application receives tokens, and that token calls /api/users.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

const TID = '6b0c4a1e-0f3d-4a55-9a37-2f1d7a9e8c11';
let env: ListeningEnv;
let idp: UpstreamIdp;
let app: http.Server;
let appBase: string;
let browser: Browser | undefined;

beforeAll(async () => {
  env = await listeningEnv();
  idp = await startUpstreamIdp({ kind: 'entra', tid: TID, redirectUris: [`${env.base}/signin-azureadhesehus`], loginForm: [{ sub: 'entra-ada', email: 'ada@hesehus.dk', email_verified: true, name: 'Ada Admin', tid: TID }] });
  const admin = await bootstrapTokenHttp(env.base, env.tenant);
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return res.json() as Promise<{ id: string }>;
  };
  await call('PUT', '/api/upstream/AzureAd/hesehus', { displayName: 'Hesehus Azure AD', clientId: idp.clientId, clientSecret: idp.clientSecret, tenantId: TID, trustAllUsers: false, defaultUserRoles: [], discoveryUrl: idp.discoveryUrl });
  const user = await call('POST', '/api/users', { email: 'ada@hesehus.dk', fullName: 'Ada Admin' });
  await call('POST', `/api/users/${user.id}/roles`, { roles: ['admin'] });

  // The downstream application: a confidential server-side app with openid-client.
  app = http.createServer();
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appBase = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  await call('PUT', '/api/downstream/InteractiveApplication/backoffice', { displayName: 'Back office', allowedScopes: ['openid', 'profile', 'email', 'iam/'], redirectUris: [`${appBase}/callback`], clientSecret: 'b'.repeat(40) });
  const config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  app.on('request', async (req, res) => {
    const url = new URL(req.url!, appBase);
    if (url.pathname === '/') {
      const to = client.buildAuthorizationUrl(config, { redirect_uri: `${appBase}/callback`, scope: 'openid profile email iam/', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
      res.writeHead(302, { location: to.toString() }).end();
      return;
    }
    try {
      const tokens = await client.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state });
      const users = await fetch(`${env.base}/api/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const claims = tokens.claims()!;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1>Welcome ${claims.name}</h1><p id="roles">${(claims.roles as string[]).join(',')}</p><p id="api">/api/users: ${users.status}</p>`);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => app?.close(r));
  await idp?.close();
  await env?.close();
});

it('the administrator signs in through the upstream login page and reaches the environment', async () => {
  browser = await launchChromium();
  const page = await browser.newPage();
  // Everything stays on loopback: our service, the IdP and the app.
  const outside: string[] = [];
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith('http://127.0.0.1:')) return route.continue();
    outside.push(u);
    return route.abort();
  });
  await page.goto(`${appBase}/`);
  // Our hosted sign-in page, with the tenant's name and the provider by its display name.
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await page.title()).toContain(env.tenant.tenant.displayName);
  await page.getByRole('link', { name: 'Hesehus Azure AD' }).click();
  // The upstream provider's own login page.
  await page.getByLabel('Email').fill('ada@hesehus.dk');
  await page.getByRole('button', { name: 'Next' }).click();
  // Back through /signin-azureadhesehus to the application, which holds tokens that open /api.
  await page.waitForURL(`${appBase}/callback**`);
  expect(await page.locator('h1').textContent()).toBe('Welcome Ada Admin');
  expect(await page.locator('#roles').textContent()).toBe('admin');
  expect(await page.locator('#api').textContent()).toBe('/api/users: 200');
  expect(outside).toEqual([]);
}, 60_000);
