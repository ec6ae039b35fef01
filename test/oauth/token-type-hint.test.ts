/**
 * `token_type_hint` is only a hint: an unknown value is ignored, never a 400.
 * RFC 7662 §2.1 (introspection), https://www.rfc-editor.org/rfc/rfc7662#section-2.1
 * RFC 7009 §2.1 (revocation), https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basic, bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
});
afterAll(() => env.close());

const post = (url: string, form: Record<string, string>) =>
  env.app.inject({ method: 'POST', url, headers: { host: t.host, authorization: basic(t.clientId, t.clientSecret), 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });

it('RFC 7662 §2.1 and RFC 7009 §2.1: an unknown token_type_hint is ignored by introspection and revocation', async () => {
  const token = await bootstrapToken(env.app, t);
  const introspected = await post('/oauth2/introspect', { token, token_type_hint: 'urn:example:unknown' });
  expect(introspected.statusCode, introspected.body).toBe(200);
  expect(introspected.json()).toMatchObject({ active: true, client_id: t.clientId });
  const revoked = await post('/oauth2/revoke', { token, token_type_hint: 'urn:example:unknown' });
  expect(revoked.statusCode, revoked.body).toBe(200);
  expect((await post('/oauth2/introspect', { token, token_type_hint: 'refresh_token' })).json()).toEqual({ active: false });
});
