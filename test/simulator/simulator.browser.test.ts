/**
 * The IdP simulator as a newcomer meets it (issue #11 item 8), in headless Chromium: an application's authorization
 * request → `/login` with john.doe@example.com → the simulator's SAML page → its signed Response posted to our ACS →
 * the application's code exchange (openid-client) yields tokens with the test organization's `org_id`.
 * The README's screenshot is refreshed with `SCREENSHOTS=1 npx vitest run test/simulator/simulator.browser.test.ts`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import * as client from 'openid-client';
import { launchChromium } from '../support/browser.ts';
import { authorizationRequest, bootstrapTokenHttp } from '../support/http.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { forTenant } from '../../src/platform/db.ts';
import { setUpDemoOrganization, type DemoOrganization } from '../../src/simulator/service.ts';

const IMAGES = new URL('../../docs/images/', import.meta.url).pathname;
const REDIRECT = 'https://app.example.com/callback';
let env: ListeningEnv;
let demo: DemoOrganization;
let browser: Browser;
const outside: string[] = [];

async function shoot(page: Page, name: string) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: `${IMAGES}${name}`, fullPage: true });
}

beforeAll(async () => {
  env = await listeningEnv({ IDP_SIMULATOR: 'allow-anywhere' });
  const admin = await bootstrapTokenHttp(env.base, env.tenant);
  demo = await setUpDemoOrganization(forTenant(env.database.db, env.tenant.tenant.id), env.keys, env.tenant.tenant.issuer);
  const res = await fetch(`${env.base}/api/downstream/InteractiveApplication/demo-app`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'Demo app', allowedScopes: ['openid', 'email', 'profile'], redirectUris: [REDIRECT], clientSecret: 'd'.repeat(40) }),
  });
  expect(res.status).toBe(201);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.close();
  expect(outside).toEqual([]);
});

it('/login with john.doe@example.com → the simulator → back → the application gets tokens with org_id', async () => {
  const { config, verifier, state, url } = await authorizationRequest(env.base, { clientId: 'demo-app', secret: 'd'.repeat(40), redirectUri: REDIRECT }, {});

  const context = await browser.newContext();
  let callback: string | undefined;
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(env.base)) return route.continue();
    if (u.startsWith(REDIRECT)) {
      callback = u;
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>App</title><p>signed in</p>' });
    }
    outside.push(u);
    return route.abort();
  });
  const page = await context.newPage();
  await page.goto(url.toString());
  await page.getByLabel('Email').fill('john.doe@example.com');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'IdP Simulator (SAML)' }).waitFor();
  expect(await page.getByLabel('Email').inputValue()).toBe('john.doe@example.com');
  await shoot(page, 'idp-simulator.png');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.toString().startsWith(REDIRECT));

  const tokens = await client.authorizationCodeGrant(config, new URL(callback!), { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
  expect(tokens.claims()).toMatchObject({ email: 'john.doe@example.com', given_name: 'John', family_name: 'Doe', org_id: demo.organization.id, org_roles: ['member'] });
  await context.close();
}, 90_000);
