/**
 * As a person would, in headless Chromium: an invitation email received by a real SMTP server on loopback, its link
 * followed, a password chosen, the member signed in; then /account: their organization and roles, a name saved, a
 * second browser signed out from the first, a password changed. Keyboard and labels only (getByLabel, getByRole).
 * Screenshots for the README: docs/images/invitation-email.png, invitation-accept.png, account.png
 * (`SCREENSHOTS=1 npx vitest run test/account/account.browser.test.ts`).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { smtpSink, type SmtpSink } from '../support/smtp.ts';
import { linkIn } from '../invitations/support.ts';

const IMAGES = new URL('../../docs/images/', import.meta.url).pathname;
const FIRST = 'a long and unusual passphrase';
const SECOND = 'another quite unusual passphrase';
let env: ListeningEnv;
let sink: SmtpSink;
let browser: Browser;
let admin: string;
const outside: string[] = [];

async function shoot(page: Page, name: string) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: `${IMAGES}${name}`, fullPage: true });
}

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(env.base) || u === 'about:blank') return route.continue();
    outside.push(u);
    return route.abort();
  });
  return context;
}

beforeAll(async () => {
  sink = await smtpSink();
  env = await listeningEnv({ SMTP_URL: sink.url }, { mailQueue: `mail.send.${randomBytes(4).toString('hex')}` });
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.close();
  await sink?.close();
  expect(outside).toEqual([]);
});

it('invited by email, accepted with a password, then the account page: organization, name, sessions, password', async () => {
  const org = (await call('POST', '/api/organizations', { displayName: 'Acme Corporation' })).json;
  const address = `grace-${randomBytes(3).toString('hex')}@acme.example`;
  const invited = await call('POST', `/api/organizations/${org.id}/invitations`, { email: address, roles: ['admin'] });
  expect(invited.status, invited.text).toBe(201);
  await env.app.services.jobs.runQueued(env.app.services.mailer.queueName);
  const mail = sink.messages.find((m) => (m.to as { value: { address: string }[] }).value.some((v) => v.address === address))!;
  expect(mail.subject).toContain('Acme Corporation');

  const context = await newContext();
  const page = await context.newPage();
  // The email as a mail client shows it (its HTML part), and its button followed.
  await page.setContent(String(mail.html));
  await shoot(page, 'invitation-email.png');
  const link = linkIn(mail);
  expect(await page.getByRole('link', { name: /accept/i }).first().getAttribute('href')).toBe(link);
  await page.getByRole('link', { name: /accept/i }).first().click();
  await page.waitForURL(/\/invitations\/accept/);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You are invited');
  expect(await page.textContent('main')).toContain('Acme Corporation');
  await page.getByLabel('Choose a password').fill(FIRST);
  await page.getByLabel('Repeat the password').fill(FIRST);
  await shoot(page, 'invitation-accept.png');
  await page.getByLabel('Repeat the password').press('Enter');
  await page.waitForURL(`${env.base}/`);
  expect(await page.textContent('h1')).toContain('Signed in as');

  // The account page, reached from the landing page.
  await page.getByRole('link', { name: 'Your account' }).click();
  await page.waitForURL(`${env.base}/account`);
  const orgRow = page.getByRole('row', { name: /Acme Corporation/ });
  expect(await orgRow.textContent()).toContain('admin');
  expect(await page.getByRole('row', { name: /this browser/ }).count()).toBe(1);

  await page.getByLabel('Name').fill('Grace Hopper');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.waitForURL(/done=name/);
  expect(await page.getByRole('status').textContent()).toContain('Your name is saved.');
  expect(await page.getByLabel('Name').inputValue()).toBe('Grace Hopper');

  // A second browser signs in; the first signs it out.
  const laptop = await newContext();
  const other = await laptop.newPage();
  await other.goto(`${env.base}/account`);
  await other.getByLabel('Email').fill(address);
  await other.getByLabel('Password').fill(FIRST);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await other.waitForURL(`${env.base}/account`);
  await page.reload();
  await shoot(page, 'account.png');
  await page.getByRole('button', { name: /Sign out of all other sessions \(1\)/ }).click();
  await page.waitForURL(/done=ended-others/);
  await other.reload();
  expect(other.url()).toContain('/login');

  // The password, changed from the page: this browser stays signed in, the old password no longer works.
  await page.getByLabel('Current password').fill(FIRST);
  await page.getByLabel('New password', { exact: true }).fill(SECOND);
  await page.getByLabel('New password again').fill(SECOND);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForURL(/done=password/);
  expect(await page.getByRole('status').textContent()).toContain('Your password is changed.');
  await other.getByLabel('Email').fill(address);
  await other.getByLabel('Password').fill(FIRST);
  await other.getByRole('button', { name: 'Sign in' }).click();
  expect(await other.getByRole('alert').textContent()).toContain('not correct');
  await laptop.close();
  await context.close();
}, 90_000);
