/** The permission model for user tokens: scope iam/ and a role granting the route's permission (admin: all). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mintToken, testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';

let env: TestEnv;
let admin: Api;

beforeAll(async () => {
  env = await testEnv();
  admin = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

/** A user with these roles, and a token as the authorization_code grant issues it (sub = the user). */
async function userWith(roles: string[]): Promise<{ id: string; call: Api['call'] }> {
  const user = (await admin.call('POST', '/api/users', { email: email('u'), fullName: 'U' })).json();
  if (roles.length) expect((await admin.call('POST', `/api/users/${user.id}/roles`, { roles })).statusCode).toBeLessThan(300);
  const { token } = await mintToken(env, admin.tenant.tenant, { sub: user.id, clientId: admin.tenant.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300 });
  return { id: user.id, call: (method, url, body, headers = {}) => admin.call(method, url, body, { ...headers, authorization: `Bearer ${token}` }) };
}

it('a custom role grants exactly its permissions; admin-only routes need admin', async () => {
  expect((await admin.call('POST', '/api/roles', { name: 'user-reader', permissions: ['users:read'] })).statusCode).toBe(201);
  const reader = await userWith(['user-reader']);
  expect((await reader.call('GET', '/api/users')).statusCode).toBe(200);
  expect((await reader.call('POST', '/api/users', { email: email('x') })).statusCode).toBe(403);
  expect((await reader.call('GET', '/api/audit')).statusCode).toBe(403);
  expect((await reader.call('GET', '/api/tenant')).statusCode).toBe(403);
  expect((await reader.call('POST', '/api/keys/rotate')).statusCode).toBe(403);
  expect((await (await userWith([])).call('GET', '/api/users')).statusCode).toBe(403);
  const boss = await userWith(['admin']);
  expect((await boss.call('GET', '/api/tenant')).statusCode).toBe(200);
  expect((await boss.call('GET', '/api/downstream')).statusCode).toBe(200);
});

it('a deactivated user’s token stops working at once', async () => {
  const boss = await userWith(['admin']);
  expect((await boss.call('GET', '/api/tenant')).statusCode).toBe(200);
  expect((await admin.call('PATCH', `/api/users/${boss.id}`, { active: false })).statusCode).toBe(200);
  expect((await boss.call('GET', '/api/tenant')).statusCode).toBe(401);
});
