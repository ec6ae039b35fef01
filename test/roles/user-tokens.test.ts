/** The permission model for user tokens: scope iam/ and a role granting the route's permission (admin: all). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
let admin: string;

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  admin = await bootstrapToken(env.app, t);
});
afterAll(() => env.close());

const call = (method: string, url: string, token: string, body?: unknown) =>
  env.app.inject({ method: method as 'GET', url, headers: { host: t.host, authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });

async function userToken(roles: string[]): Promise<string> {
  const email = `u${Math.random().toString(36).slice(2)}@example.com`;
  const user = (await call('POST', '/api/users', admin, { email, fullName: 'U' })).json();
  if (roles.length) expect((await call('POST', `/api/users/${user.id}/roles`, admin, { roles })).statusCode).toBeLessThan(300);
  // A token as the authorization_code grant issues it: sub is the user, through a client of the tenant.
  const { token } = await env.app.services.tokens.issue(t.tenant, { sub: user.id, clientId: t.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300 });
  return token;
}

it('a custom role grants exactly its permissions; admin-only routes need admin', async () => {
  expect((await call('POST', '/api/roles', admin, { name: 'user-reader', permissions: ['users:read'] })).statusCode).toBe(201);
  const reader = await userToken(['user-reader']);
  expect((await call('GET', '/api/users', reader)).statusCode).toBe(200);
  expect((await call('POST', '/api/users', reader, { email: 'x@example.com' })).statusCode).toBe(403);
  expect((await call('GET', '/api/audit', reader)).statusCode).toBe(403);
  expect((await call('GET', '/api/tenant', reader)).statusCode).toBe(403);
  expect((await call('POST', '/api/keys/rotate', reader)).statusCode).toBe(403);

  const nobody = await userToken([]);
  expect((await call('GET', '/api/users', nobody)).statusCode).toBe(403);

  const boss = await userToken(['admin']);
  expect((await call('GET', '/api/tenant', boss)).statusCode).toBe(200);
  expect((await call('GET', '/api/downstream', boss)).statusCode).toBe(200);
});

it('a deactivated user’s token stops working at once', async () => {
  const token = await userToken(['admin']);
  const me = (await call('GET', '/api/users', admin)).json().items.at(-1);
  expect((await call('GET', '/api/tenant', token)).statusCode).toBe(200);
  expect((await call('PATCH', `/api/users/${me.id}`, admin, { active: false })).statusCode).toBe(200);
  expect((await call('GET', '/api/tenant', token)).statusCode).toBe(401);
});
