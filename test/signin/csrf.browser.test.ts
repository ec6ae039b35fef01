/**
 * Browser security in a real browser (headless Chromium): the session cookie's attributes as Chromium stores them,
 * and another site (a different origin on loopback) cannot sign the user out: not with an image, not with an
 * auto-submitted form; following its link only shows our confirmation page, where the user decides.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { forTenant } from '../../src/platform/db.ts';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';

const PASSWORD = 'correct horse battery staple';
let env: ListeningEnv;
let evil: http.Server;
let evilBase: string;
let browser: Browser | undefined;

beforeAll(async () => {
  env = await listeningEnv();
  await createUser(forTenant(env.database.db, env.tenant.tenant.id), systemActor('test'), { email: 'ada@example.com', displayName: 'Ada Lovelace', password: PASSWORD });
  // Another site: "localhost" is a different site from "127.0.0.1" (so Fetch Metadata says cross-site).
  evil = http.createServer((req, res) => {
    const logout = `${env.base}/oauth2/logout`;
    const body =
      req.url === '/form'
        ? `<form id="f" method="post" action="${logout}"><input name="csrf" value="${'A'.repeat(43)}"></form><script>document.getElementById('f').submit()</script>`
        : `<img src="${logout}"><p id="done">loaded</p>`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>${body}</body></html>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  evilBase = `http://localhost:${(evil.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => evil?.close(r));
  await env?.close();
});

it('another site cannot sign the user out; the confirmation page can', async () => {
  browser = await launchChromium();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.base}/login`);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Signed in as Ada Lovelace' }).waitFor();
  const [session] = (await context.cookies(env.base)).filter((c) => c.name === 'iam_session');
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
  expect(session!.domain).toBe('127.0.0.1');

  const signedIn = async () => {
    await page.goto(`${env.base}/`);
    return page.getByRole('heading', { name: 'Signed in as Ada Lovelace' }).isVisible();
  };
  // An image pointing at the logout endpoint.
  await page.goto(`${evilBase}/`);
  await page.locator('#done').waitFor();
  expect(await signedIn()).toBe(true);
  // A form that posts itself (with a made-up token).
  await page.goto(`${evilBase}/form`);
  await page.waitForURL(`${env.base}/oauth2/logout`);
  expect(await page.getByRole('heading', { name: 'Not signed out' }).isVisible()).toBe(true);
  expect(await signedIn()).toBe(true);
  // A link, followed: our page asks.
  await page.goto(`${env.base}/oauth2/logout`);
  await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
  expect(await signedIn()).toBe(true);
  await page.goto(`${env.base}/oauth2/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${env.base}/signed-out`);
  await page.goto(`${env.base}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect((await context.cookies(env.base)).filter((c) => c.name === 'iam_session')).toEqual([]);
}, 60_000);
