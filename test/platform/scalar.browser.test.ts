/**
 * The API reference story, end to end in headless Chromium against the real server on a loopback port:
 * open /scalar, in the Authentication panel keep oauth2 selected and choose clientCredentials, enter the bootstrap
 * machine client's Client ID and Client Secret, keep the iam/ scope selected, click Authorize; then use Test Request
 * on the protected endpoint GET /api/tenant and see 200. The page must load nothing from outside this server.
 */
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { newTenant, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { confineToOrigin, isLocal, launchChromium, scalarField } from '../support/browser.ts';

let browser: Browser | undefined;
let context: BrowserContext | undefined;
let env: TestEnv | undefined;
let tenant: TestTenant;
let origin: string;

beforeAll(async () => {
  env = await testEnv();
  await env.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = env.app.server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  tenant = await newTenant(env.database, env.keys, { host: `127.0.0.1:${port}`, issuer: origin });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await env?.close();
});

describe('Scalar at /scalar (headless Chromium)', () => {
  it('authorizes with the bootstrap client (clientCredentials, scope iam/) and Test Request on GET /api/tenant shows 200', { timeout: 40_000 }, async () => {
    // Launched here, not in beforeAll, so a missing Chromium fails this test (with the reason) instead of skipping it.
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const requested = await confineToOrigin(context, origin);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    try {
      await page.goto(`${origin}/scalar`);
      const auth = page.getByRole('region', { name: 'Authentication' });

      // oauth2 stays the selected scheme.
      await auth.getByRole('button', { name: 'Selected Auth Type: oauth2' }).waitFor();
      await auth.locator('label').filter({ hasText: /^Token URL$/ }).waitFor();
      // clientCredentials: Scalar shows one button per flow only when the scheme has several; choose it if so.
      const flowButton = auth.getByRole('button', { name: 'clientCredentials', exact: true });
      if ((await flowButton.count()) > 0) await flowButton.click();
      // The clientCredentials form: the tenant's token URL, no authorization URL.
      expect(await auth.locator('label').filter({ hasText: /^Auth URL$/ }).count()).toBe(0);
      expect((await (await scalarField(auth, 'Token URL')).textContent())?.trim()).toBe(`${origin}/oauth2/token`);

      // Client ID and Client Secret of the bootstrap machine client.
      await (await scalarField(auth, 'Client ID')).fill(tenant.clientId);
      await (await scalarField(auth, 'Client Secret')).fill(tenant.clientSecret);

      // iam/ is preselected, and it is the only selected scope.
      const scopes = auth.getByRole('button', { name: /^Scopes Selected 1 \/ \d+$/ });
      await scopes.click();
      expect(await auth.getByRole('checkbox', { name: 'Select iam/ scope' }).isChecked()).toBe(true);
      await scopes.click();

      // Authorize → POST {issuer}/oauth2/token, 200.
      const tokenResponse = page.waitForResponse((r) => r.url() === `${origin}/oauth2/token` && r.request().method() === 'POST');
      await auth.getByRole('button', { name: 'Authorize', exact: true }).click();
      const tokenRes = await tokenResponse;
      expect(tokenRes.status(), `token response: ${await tokenRes.text()}`).toBe(200);
      const token = (await tokenRes.json()) as { access_token: string; token_type: string; scope: string };
      expect(token).toMatchObject({ token_type: 'Bearer', scope: 'iam/' });
      const form = new URLSearchParams(tokenRes.request().postData() ?? '');
      expect(form.get('grant_type')).toBe('client_credentials');
      expect(form.get('scope')).toBe('iam/');
      // The client authenticated as the bootstrap client (client_secret_basic, or client_secret_post).
      const authorization = tokenRes.request().headers()['authorization'];
      if (authorization) {
        expect(authorization).toMatch(/^Basic /);
        expect(Buffer.from(authorization.slice(6), 'base64').toString()).toBe(`${tenant.clientId}:${tenant.clientSecret}`);
      } else expect([form.get('client_id'), form.get('client_secret')]).toEqual([tenant.clientId, tenant.clientSecret]);
      // The panel now holds the access token it received.
      expect(await auth.getByRole('textbox', { name: 'Access Token' }).inputValue()).toBe(token.access_token);

      // Test Request on GET /api/tenant, sent from the API client with the bearer token.
      await page.getByRole('complementary').getByRole('link', { name: 'Tenant', exact: true }).click();
      await page.getByRole('region', { name: 'Describe the current tenant' }).getByRole('button', { name: 'Test Request (get /api/tenant)' }).click();
      const client = page.getByRole('dialog', { name: 'API Client' });
      const apiResponse = page.waitForResponse((r) => r.url() === `${origin}/api/tenant` && r.request().method() === 'GET');
      await client.getByRole('button', { name: `Send get request to ${origin}/api/tenant` }).click();
      const apiRes = await apiResponse;
      expect(apiRes.status(), `/api/tenant response: ${await apiRes.text()}`).toBe(200);
      expect(apiRes.request().headers()['authorization']).toBe(`Bearer ${token.access_token}`);
      expect(await apiRes.json()).toMatchObject({ id: tenant.tenant.id, slug: tenant.tenant.slug });

      // …and the UI shows 200 with the tenant in the body.
      const responsePanel = client.getByRole('region', { name: 'Response', exact: true });
      await responsePanel.getByRole('link', { name: '200 OK', exact: true }).waitFor();
      const body = responsePanel.getByRole('region', { name: 'Body', exact: true });
      await expect.poll(() => body.innerText()).toContain(`"slug": "${tenant.tenant.slug}"`);

      // Nothing came from anywhere but this server (anything else was aborted, and recorded here).
      expect(requested.filter((url) => !isLocal(url, origin))).toEqual([]);
      expect(requested).toEqual(expect.arrayContaining([`${origin}/scalar/js/scalar.js`, `${origin}/openapi.json`]));
      expect(pageErrors).toEqual([]);
    } catch (error) {
      await failureScreenshot(page);
      const serverErrors = env!.logs.filter((line) => /"level":(50|60)/.test(line));
      if (serverErrors.length) console.error(`server errors during the test:\n${serverErrors.join('')}`);
      throw error;
    }
  });
});

async function failureScreenshot(page: Page): Promise<void> {
  const file = path.join(tmpdir(), `scalar-browser-failure-${Date.now()}.png`);
  try {
    await page.screenshot({ path: file, fullPage: false });
    console.error(`scalar browser test failed; screenshot: ${file}`);
  } catch {
    // The page may already be gone.
  }
}
