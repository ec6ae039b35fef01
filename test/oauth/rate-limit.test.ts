/** RFC 6819 §4.3.2 / §5.1.4.2.3: online guessing of client secrets is limited per client and per address. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv({ AUTH_FAILURE_LIMIT: '3' });
  t = await env.newTenant();
});
afterAll(() => env.close());

const attempt = (secret: string, ip = '10.1.1.1', clientId = t.clientId) =>
  env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    remoteAddress: ip,
    headers: { host: t.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });

it('failed client authentication past the limit → 429 with Retry-After, even with the right secret, then per address too', async () => {
  for (let i = 0; i < 3; i++) expect((await attempt('wrong-' + i)).statusCode).toBe(401);
  const blocked = await attempt(t.clientSecret);
  expect(blocked.statusCode).toBe(429);
  expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  expect(blocked.json().error).toBe('temporarily_unavailable');
  // The same address guessing another client's secret is blocked too.
  expect((await attempt('x', '10.1.1.1', 'someone-else')).statusCode).toBe(429);
  // Another address for another client is not affected.
  expect((await attempt('x', '10.2.2.2', 'someone-else')).statusCode).toBe(401);
});
