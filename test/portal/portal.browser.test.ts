/**
 * The Admin Portal as a customer's IT administrator uses it, in headless Chromium: each intent end to end from the
 * one-time link (SSO setup with the SAML "Test connection" against a loopback test IdP that signs its own responses,
 * directory sync with a real SCIM request, domain verification against a loopback DNS server, certificate renewal),
 * then framing refused and allowed from a loopback page of another origin. Screenshots go to docs/images/portal-*.png.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { selfSignedKeyPair, startSamlTestIdp, type SamlTestIdp } from '../support/saml-test-idp.ts';

const IMAGES = new URL('../../docs/images/', import.meta.url).pathname;
let env: ListeningEnv;
let dns: TestDnsServer;
let idp: SamlTestIdp;
let browser: Browser;
let admin: string;
let orgId: string;
/** The README's screenshots, refreshed with `SCREENSHOTS=1 npx vitest run test/portal/portal.browser.test.ts`. */
async function shoot(page: Page, name: string, fullPage = false) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: `${IMAGES}${name}`, fullPage });
}
/** Requests that left loopback (there must be none). */
const outside: string[] = [];

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

async function portalLink(intent: string, organizationId = orgId): Promise<string> {
  const res = await call('POST', `/api/organizations/${organizationId}/portal-links`, { intent, returnUrl: 'https://app.example.com/settings' });
  expect(res.status, res.text).toBe(201);
  return res.json.url;
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith('http://127.0.0.1:')) return route.continue();
    outside.push(u);
    return route.abort();
  });
  return context;
}

async function opened(intent: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(await portalLink(intent));
  return { context, page };
}

beforeAll(async () => {
  dns = await startDnsServer();
  env = await listeningEnv({ DNS_SERVERS: `127.0.0.1:${dns.port}` });
  idp = await startSamlTestIdp();
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  orgId = (await call('POST', '/api/organizations', { displayName: 'Acme Corporation' })).json.id;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await env?.close();
  await dns?.close();
  expect(outside).toEqual([]);
});

describe('Admin Portal in Chromium', () => {
  it('SSO: pick Okta, hand it our URLs, upload its certificate, test the connection in a pop-up, activate', async () => {
    const { context, page } = await opened('sso');
    await page.getByRole('heading', { name: 'Set up single sign-on' }).waitFor();
    expect(await page.title()).toContain('Acme Corporation');
    await shoot(page, 'portal-sso-pick.png', true);

    await page.getByRole('link', { name: /^Microsoft Entra ID/ }).focus();
    await page.getByRole('link', { name: /^Okta/ }).click();
    await page.getByRole('heading', { name: 'Connect Okta' }).waitFor();
    const entityId = (await page.locator('#sp-entity-id').textContent())!;
    const acsUrl = (await page.locator('#sp-acs-url').textContent())!;
    expect(entityId).toMatch(new RegExp(`^${env.base}/sso/saml/[0-9a-f-]{36}/metadata$`));
    expect(acsUrl).toBe(entityId.replace(/metadata$/, 'acs'));
    await page.getByLabel('IdP entity ID (Issuer)').fill(idp.entityId);
    await page.getByLabel('IdP sign-in URL (SSO URL, HTTP-Redirect)').fill(idp.ssoUrl);
    // The certificate from a file, read into its field by the page.
    await page.getByLabel('…or choose a certificate file').setInputFiles({ name: 'okta.cert', mimeType: 'application/x-x509-ca-cert', buffer: Buffer.from(idp.keys.cert) });
    await expect.poll(() => page.getByLabel('IdP signing certificate (PEM)').inputValue()).toContain('BEGIN CERTIFICATE');
    await shoot(page, 'portal-sso-setup.png', true);
    await page.getByRole('button', { name: 'Save connection' }).click();

    // The connection has the URLs the IdP was given before it existed.
    await page.getByText('saved as a draft').waitFor();
    expect(await page.locator('#sp-entity-id').textContent()).toBe(entityId);
    const connectionId = /\/sso\/saml\/([0-9a-f-]{36})\//.exec(entityId)![1]!;
    const stored = await call('GET', `/api/connections/${connectionId}`);
    expect(stored.json).toMatchObject({ organizationId: orgId, type: 'saml', status: 'draft', settings: { idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl } });
    // Our SP metadata is served for the draft (the IdP may import it).
    const metadata = await fetch(entityId);
    expect(metadata.status).toBe(200);
    expect(await metadata.text()).toContain(acsUrl);

    // Test connection: a real round trip through the IdP in a pop-up; the profile is shown, nobody is signed in.
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('link', { name: 'Test connection' }).click()]);
    await popup.getByRole('button', { name: 'Continue as Ada' }).click();
    await popup.getByRole('heading', { name: 'Test succeeded' }).waitFor();
    expect(await popup.locator('#profile').textContent()).toContain('ada@acme.test');
    expect(await popup.locator('#profile').textContent()).toContain('Lovelace');
    await popup.setViewportSize({ width: 620, height: 900 });
    await shoot(popup, 'portal-sso-test.png', true);
    expect((await context.cookies()).map((c) => c.name)).not.toContain('iam_session');
    expect(JSON.stringify((await call('GET', '/api/users')).json)).not.toContain('ada@acme.test');
    const tested = (await call('GET', `/api/audit?action=connection.test&targetId=${connectionId}`)).json.items;
    expect(tested[0].after).toMatchObject({ outcome: 'success', subject: 'ada@acme.test' });
    expect((await call('GET', `/api/audit?action=signin.success`)).json.items).toEqual([]);
    await popup.close();

    // The exact reason of a failure: the IdP signs with a key the connection does not know.
    idp.signWith = selfSignedKeyPair('impostor');
    try {
      const [failing] = await Promise.all([page.waitForEvent('popup'), page.getByRole('link', { name: 'Test connection' }).click()]);
      await failing.getByRole('button', { name: 'Continue as Ada' }).click();
      await failing.getByRole('heading', { name: 'Test failed' }).waitFor();
      expect(await failing.locator('#test-reason').textContent()).toBe('signature_invalid');
      await failing.close();
    } finally {
      idp.signWith = idp.keys;
    }

    await page.getByRole('button', { name: 'Activate connection' }).click();
    await page.getByText('The connection is active').waitFor();
    expect((await call('GET', `/api/connections/${connectionId}`)).json.status).toBe('active');
    const activated = (await call('GET', `/api/audit?action=connection.activate&targetId=${connectionId}`)).json.items;
    expect(activated[0].actor.id).toMatch(/^portal:/);

    // Request signing, turned on by the customer's admin: our certificate appears for them to give to the IdP.
    expect(await page.locator('#sp-certificate').count()).toBe(0);
    await page.getByLabel('Sign sign-in requests').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('If you changed request signing or encryption').waitFor();
    expect(await page.getByLabel('Sign sign-in requests').isChecked()).toBe(true);
    expect(await page.getByLabel('Require encrypted assertions').isChecked()).toBe(false);
    const saved = (await call('GET', `/api/connections/${connectionId}`)).json;
    expect(saved.settings).toMatchObject({ signAuthnRequest: true, wantAssertionsEncrypted: false, idpEntityId: idp.entityId });
    expect(((await page.locator('#sp-certificate').textContent()) ?? '').replace(/\s/g, '')).toBe(saved.serviceProvider.signingCertificate.replace(/\s/g, ''));
    await page.getByLabel('Sign sign-in requests').uncheck();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('If you changed request signing or encryption').waitFor();
    expect((await call('GET', `/api/connections/${connectionId}`)).json.settings.signAuthnRequest).toBe(false);

    await context.close();
  }, 90_000);

  it('a used link is refused in the browser', async () => {
    const url = await portalLink('sso');
    const first = await newContext();
    await (await first.newPage()).goto(url);
    const second = await newContext();
    const page = await second.newPage();
    const res = await page.goto(url);
    expect(res!.status()).toBe(410);
    await page.getByText('This portal link was already used').waitFor();
    await first.close();
    await second.close();
  }, 30_000);

  it('Directory sync: create the directory, generate a token shown once, see the requests and errors', async () => {
    const { context, page } = await opened('dsync');
    await page.getByRole('heading', { name: 'Set up directory sync' }).waitFor();
    await page.getByLabel('Identity provider').selectOption('entra');
    await page.getByRole('button', { name: 'Create directory' }).click();
    await page.getByRole('button', { name: 'Generate token' }).click();
    const first = (await page.locator('#new-token').textContent())!;
    expect(first).toMatch(/^iamdir_[A-Za-z0-9_-]{43}$/);
    const scimBase = (await page.locator('code[id^="scim-"]').first().textContent())!;
    expect(scimBase).toMatch(new RegExp(`^${env.base}/directories/[0-9a-f-]{36}/scim/v2$`));
    const scim = (token: string) => fetch(`${scimBase}/Users`, { headers: { authorization: `Bearer ${token}` } });
    expect((await scim(first)).status).toBe(200);

    // Rotation: a second token, then the first is revoked and refused.
    await page.getByRole('button', { name: 'Rotate: generate a new token' }).click();
    const second = (await page.locator('#new-token').textContent())!;
    expect(second).not.toBe(first);
    await page.getByRole('button', { name: `Revoke token ending ${first.slice(-4)}` }).click();
    await page.getByText('The token was revoked').waitFor();
    expect((await scim(first)).status).toBe(401);
    expect((await scim(second)).status).toBe(200);
    // Shown once: the page no longer has either token.
    expect(await page.content()).not.toContain(second);

    await page.reload();
    expect(await page.locator('#last-request').textContent()).not.toBe('—');
    await page.getByText('refused, revoked token').waitFor();
    await shoot(page, 'portal-dsync.png', true);
    const directories = (await call('GET', `/api/organizations/${orgId}/directories`)).json.items;
    expect(directories).toHaveLength(1);
    expect(directories[0].provider).toBe('entra');
    await context.close();
  }, 60_000);

  it('Domain verification: the TXT record to publish, then "Verify now"', async () => {
    const { context, page } = await opened('domain_verification');
    await page.getByRole('heading', { name: 'Verify your domains' }).waitFor();
    await page.getByLabel('Domain').fill('acme-portal.test');
    await page.keyboard.press('Enter');
    await page.getByText('The domain was added').waitFor();
    const name = (await page.locator('code[id^="txt-name-"]').textContent())!;
    const value = (await page.locator('code[id^="txt-value-"]').textContent())!;
    expect(name).toBe('_iam-challenge.acme-portal.test');
    await shoot(page, 'portal-domains.png', true);

    await page.getByRole('button', { name: 'Verify acme-portal.test now' }).click();
    await page.getByText('is not verified yet').waitFor();
    expect(await page.locator('#status-acme-portal\\.test').textContent()).toBe('pending');

    dns.txt.set(name, [value]);
    await page.getByRole('button', { name: 'Verify acme-portal.test now' }).click();
    await page.getByText('acme-portal.test is verified.').waitFor();
    expect(await page.locator('#status-acme-portal\\.test').textContent()).toBe('verified');
    const domains = (await call('GET', `/api/organizations/${orgId}/domains`)).json.items;
    expect(domains[0]).toMatchObject({ domain: 'acme-portal.test', status: 'verified', verificationMethod: 'dns' });
    await context.close();
  }, 60_000);

  it('Certificate renewal: each certificate with its expiry, the new one added beside the old, the old removed', async () => {
    const old = selfSignedKeyPair('acme-old', 20);
    const renewed = selfSignedKeyPair('acme-new', 400);
    const created = await call('POST', `/api/organizations/${orgId}/connections`, { type: 'saml', displayName: 'Acme ADFS', settings: { idpEntityId: 'https://adfs.acme.test', idpSsoUrl: 'https://adfs.acme.test/sso', idpCertificates: [old.cert] } });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id;
    const { context, page } = await opened('certificate_renewal');
    await page.getByRole('heading', { name: 'Certificate renewal' }).waitFor();
    const table = page.locator(`#certs-${id}`);
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('.expiry').first().textContent()).toMatch(/in (19|20) days/);
    await page.locator(`#certificate-${id}`).fill(renewed.cert);
    await page.locator(`#conn-${id}`).locator('..').getByRole('button', { name: 'Add certificate' }).click();
    await page.getByText('The certificate was added beside the current one').waitFor();
    expect(await table.locator('tbody tr').count()).toBe(2);
    expect(await table.locator('.expiry').nth(1).textContent()).toMatch(/in (399|400) days/);
    await shoot(page, 'portal-certificates.png', true);
    expect((await call('GET', `/api/connections/${id}`)).json.settings.idpCertificates).toHaveLength(2);

    await table.getByRole('button', { name: 'Remove certificate 1' }).click();
    await page.getByText('The certificate was removed').waitFor();
    const left = (await call('GET', `/api/connections/${id}`)).json.settings.idpCertificates;
    expect(left.map((pem: string) => pem.trim())).toEqual([renewed.cert.trim()]);
    expect(await table.getByRole('button', { name: /Remove/ }).count()).toBe(0);
    await context.close();
  }, 60_000);

  it('framing: refused by default, allowed for an origin registered for the tenant', async () => {
    const host = http.createServer();
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const hostOrigin = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    let src = '';
    host.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>SaaS settings</title><h1>Your SaaS settings</h1><iframe title="Admin Portal" src="${src}" width="1000" height="700"></iframe>`));
    const context = await newContext();
    try {
      const page = await context.newPage();
      src = await portalLink('sso');
      await page.goto(hostOrigin, { waitUntil: 'load' });
      const frame = page.frames().find((f) => f !== page.mainFrame())!;
      // Chromium replaces the refused document with its error page (ERR_BLOCKED_BY_RESPONSE).
      expect(frame.url()).toBe('chrome-error://chromewebdata/');
      expect(await frame.getByRole('heading', { name: 'Set up single sign-on' }).count()).toBe(0);

      expect((await call('PUT', '/api/portal/settings', { frameAncestors: [hostOrigin] })).status).toBe(200);
      src = await portalLink('sso');
      await page.goto(hostOrigin, { waitUntil: 'load' });
      const portal = page.frameLocator('iframe');
      await portal.getByRole('heading', { name: 'Set up single sign-on' }).waitFor();
      // The session works inside the frame: navigate within it.
      await portal.getByRole('link', { name: /^Google Workspace/ }).click();
      await portal.getByRole('heading', { name: 'Connect Google Workspace' }).waitFor();
      await shoot(page, 'portal-embedded.png');
    } finally {
      await call('PUT', '/api/portal/settings', { frameAncestors: [] });
      await context.close();
      await new Promise((r) => host.close(r));
    }
  }, 60_000);
});
