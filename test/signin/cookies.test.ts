/**
 * Cookies (src/platform/cookies.ts): HttpOnly, SameSite=Lax, Path=/ and no Domain always; over TLS (seen directly or
 * via a trusted proxy only) also Secure and the `__Host-` prefix; each cookie at most once per response.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv({ TRUST_PROXY: '10.0.0.1' });
  t = await env.newTenant();
});
afterAll(() => env.close());

const setCookies = (remoteAddress: string, proto?: string) =>
  env.app
    .inject({ url: '/login', remoteAddress, headers: { host: t.host, ...(proto ? { 'x-forwarded-proto': proto } : {}) } })
    .then((r) => ([] as string[]).concat((r.headers['set-cookie'] as string | string[] | undefined) ?? []));

it('X-Forwarded-Proto is honoured from configured proxies only: __Host- and Secure over https', async () => {
  const https = await setCookies('10.0.0.1', 'https');
  expect(https).toHaveLength(1);
  expect(https[0]).toMatch(/^__Host-iam_login=[A-Za-z0-9_-]{22}; /);
  for (const attr of ['Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']) expect(https[0]!.split('; ')).toContain(attr);
  expect(https[0]).not.toMatch(/Domain=/i);
  for (const plain of [await setCookies('10.9.9.9', 'https'), await setCookies('10.0.0.1')]) {
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^iam_login=/);
    expect(plain[0]).not.toContain('Secure');
    expect(plain[0]!.split('; ')).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Lax']));
  }
});

it('a cookie without the __Host- prefix is not read over https (a sibling host could have set it)', async () => {
  const page = await env.app.inject({ url: '/login', remoteAddress: '10.0.0.1', headers: { host: t.host, 'x-forwarded-proto': 'https' } });
  const value = /__Host-iam_login=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const post = (cookie: string) =>
    env.app.inject({ method: 'POST', url: '/login', remoteAddress: '10.0.0.1', headers: { host: t.host, 'x-forwarded-proto': 'https', cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ login: 'nobody@example.com', password: 'x', csrf }).toString() });
  expect((await post(`iam_login=${value}`)).statusCode).toBe(400);
  const accepted = await post(`__Host-iam_login=${value}`);
  expect(accepted.statusCode).toBe(401);
  // The re-rendered form keeps the transaction: no second Set-Cookie for it.
  expect(accepted.headers['set-cookie']).toBeUndefined();
});
