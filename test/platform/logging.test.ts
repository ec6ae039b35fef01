/** Request logs: one line per request with tenant, client, status and duration; no secret ever appears. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
});
afterAll(() => env.close());

it('logs one line per request and redacts secrets, tokens and Authorization headers', async () => {
  env.logs.length = 0;
  const form = { host: t.host, 'content-type': 'application/x-www-form-urlencoded' };
  const ok = await env.app.inject({ method: 'POST', url: '/oauth2/token?client_secret=leak-in-query', headers: { ...form, authorization: basic(t.clientId, t.clientSecret) }, payload: 'grant_type=client_credentials' });
  const accessToken = ok.json().access_token as string;
  await env.app.inject({ method: 'POST', url: '/oauth2/token', headers: form, payload: `grant_type=client_credentials&client_id=${t.clientId}&client_secret=wrong-secret-value` });
  await env.app.inject({ url: '/api/tenant', headers: { host: t.host, authorization: `Bearer ${accessToken}` } });
  const lines = env.logs.map((l) => JSON.parse(l));
  const requests = lines.filter((l) => l.msg === 'request');
  expect(requests).toHaveLength(3);
  expect(requests[0]).toMatchObject({ method: 'POST', path: '/oauth2/token', tenant: t.tenant.slug, clientId: t.clientId, status: 200 });
  expect(typeof requests[0].ms).toBe('number');
  expect(requests[1]).toMatchObject({ status: 401 });
  expect(requests[2]).toMatchObject({ path: '/api/tenant', clientId: t.clientId, status: 200 });
  const all = env.logs.join('\n');
  for (const secret of [t.clientSecret, accessToken, accessToken.split('.')[2]!, 'wrong-secret-value', 'leak-in-query', basic(t.clientId, t.clientSecret).slice(6)]) {
    expect(all).not.toContain(secret);
  }
});

it('pino redaction paths censor credential fields wherever they are logged', () => {
  env.logs.length = 0;
  env.app.log.info(
    { upstream: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } }, req: { url: '/x?code=abc', headers: { authorization: 'Basic zzz' } }, body: { client_secret: 's3cr3t', password: 'hunter2' }, token: 'tok' },
    'x',
  );
  const line = env.logs.join('');
  for (const s of ['abc.def.ghi', 'sid=1', 's3cr3t', 'hunter2', '"tok"', 'code=abc', 'zzz']) expect(line).not.toContain(s);
  expect(line).toContain('[redacted]');
});
