/**
 * The Bizzkit getting-started guide, end to end through the management API as Scalar would call it: authorize with
 * the bootstrap client, configure an Azure AD upstream, create the first administrator, assign `admin`, list, and
 * read the audit trail.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
});
afterAll(() => env.close());

it('the first-admin story: token → PUT AzureAd hesehus → POST user → POST roles admin → GET list → audit shows each step by bootstrap', async () => {
  // Authorize with the bootstrap machine client (Scalar: oauth2 → clientCredentials, scope iam/).
  const token = await bootstrapToken(env.app, t);
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
    env.app.inject({
      method,
      url,
      headers: { host: t.host, authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });

  // Configure an upstream provider with the guide's example body.
  const secret = 'azure-client-secret-Qw3rty~9';
  const upstream = await call('PUT', '/api/upstream/AzureAd/hesehus', {
    displayName: 'Hesehus Azure AD',
    clientId: '00000000-0000-0000-0000-000000000000',
    clientSecret: secret,
    tenantId: '00000000-0000-0000-0000-000000000000',
    trustAllUsers: false,
    defaultUserRoles: [],
  });
  expect(upstream.statusCode).toBe(201);
  expect(upstream.json()).toMatchObject({
    type: 'AzureAd',
    id: 'hesehus',
    displayName: 'Hesehus Azure AD',
    clientSecretSet: true,
    redirectUri: `http://${t.host}/signin-azureadhesehus`,
  });
  expect(upstream.body).not.toContain(secret);

  // Create the first administrator with the guide's example body, and copy the returned id.
  const created = await call('POST', '/api/users', { email: 'admin@example.com', fullName: 'Ada Admin' });
  expect(created.statusCode).toBe(201);
  const user = created.json();
  expect(user).toMatchObject({ email: 'admin@example.com', fullName: 'Ada Admin', userName: 'admin@example.com', active: true, roles: [] });
  expect(created.headers.location).toBe(`/api/users/${user.id}`);

  // Assign the admin role.
  const assigned = await call('POST', `/api/users/${user.id}/roles`, { roles: ['admin'] });
  expect(assigned.statusCode).toBe(200);
  expect(assigned.json()).toEqual({ userId: user.id, roles: ['admin'] });

  // The list shows the administrator with the role.
  const list = await call('GET', '/api/users');
  expect(list.statusCode).toBe(200);
  expect(list.json()).toMatchObject({ items: [{ id: user.id, email: 'admin@example.com', roles: ['admin'] }], nextCursor: null });
  const admins = await call('GET', '/api/users?role=admin');
  expect(admins.json().items.map((u: { id: string }) => u.id)).toEqual([user.id]);

  // The audit trail shows each change, newest first, made by the bootstrap client.
  const audit = await call('GET', '/api/audit');
  expect(audit.statusCode).toBe(200);
  const events = audit.json().items.toReversed();
  expect(events.map((e: { action: string; target: { type: string; id: string } }) => [e.action, e.target.type, e.target.id])).toEqual([
    ['upstream.create', 'upstream', 'AzureAd/hesehus'],
    ['user.create', 'user', user.id],
    ['user.roles.add', 'user', user.id],
  ]);
  for (const e of events) {
    expect(e.actor).toEqual({ type: 'client', id: 'bootstrap' });
    expect(e.tenantId).toBe(t.tenant.id);
    expect(e.sourceIp).toBeTruthy();
  }
  expect(events[2]).toMatchObject({ before: { roles: [] }, after: { roles: ['admin'] } });
  expect(audit.body).not.toContain(secret);
});
