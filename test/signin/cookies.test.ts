/** Session cookies: HttpOnly and SameSite=Lax always; Secure when TLS is seen directly or via a trusted proxy only. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv({ TRUST_PROXY: '10.0.0.1' });
  t = await env.newTenant();
});
afterAll(() => env.close());

const csrfCookie = (remoteAddress: string, proto?: string) =>
  env.app.inject({ url: '/login', remoteAddress, headers: { host: t.host, ...(proto ? { 'x-forwarded-proto': proto } : {}) } }).then((r) => String(r.headers['set-cookie']));

it('X-Forwarded-Proto is honoured from configured proxies only', async () => {
  expect(await csrfCookie('10.0.0.1', 'https')).toMatch(/HttpOnly; SameSite=Lax.*; Secure/);
  expect(await csrfCookie('10.9.9.9', 'https')).not.toContain('Secure');
  expect(await csrfCookie('10.0.0.1')).not.toContain('Secure');
});
