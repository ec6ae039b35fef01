/**
 * No grant beyond what the grantor holds (issue #9 item 1). Every permission is tried against every escalation path:
 * role assignment, role definition, user credentials, client scopes and secrets, upstream trust settings and
 * defaultUserRoles, and the admin-only routes. Each refusal has a sibling that succeeds, so none of these can pass by
 * refusing everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { PERMISSIONS, type Permission } from '../../src/platform/permissions.ts';

let env: TestEnv;
let root: Api;
let adminUserId: string;

beforeAll(async () => {
  env = await testEnv();
  root = await apiFor(env, await env.newTenant());
  const admin = (await root.call('POST', '/api/users', { email: email('admin'), password: 'admin passphrase 1234' })).json();
  adminUserId = admin.id;
  expect((await root.call('POST', `/api/users/${admin.id}/roles`, { roles: ['admin'] })).statusCode).toBe(200);
});
afterAll(() => env.close());

interface Principal {
  id: string;
  role: string;
  call: Api['call'];
}

let seq = 0;
/** A user holding exactly `permissions` (through one custom role), with a user token as /authorize would issue it. */
async function holding(permissions: Permission[]): Promise<Principal> {
  const role = `r${++seq}`;
  expect((await root.call('POST', '/api/roles', { name: role, permissions })).statusCode).toBe(201);
  const user = (await root.call('POST', '/api/users', { email: email('p') })).json();
  expect((await root.call('POST', `/api/users/${user.id}/roles`, { roles: [role] })).statusCode).toBe(200);
  const { token } = await mintToken(env, root.tenant.tenant, { sub: user.id, clientId: root.tenant.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 600 });
  return { id: user.id, role, call: (method, url, body, headers = {}) => root.call(method, url, body, { ...headers, authorization: `Bearer ${token}` }) };
}

describe('role assignment needs every permission in the role', () => {
  it('users:write alone cannot assign admin, to anyone, nor a role with permissions it lacks', async () => {
    const p = await holding(['users:read', 'users:write']);
    const plain = (await root.call('POST', '/api/users', { email: email('plain') })).json();
    expect((await p.call('POST', `/api/users/${p.id}/roles`, { roles: ['admin'] })).statusCode).toBe(403);
    expect((await p.call('POST', `/api/users/${plain.id}/roles`, { roles: ['admin'] })).statusCode).toBe(403);
    expect((await root.call('POST', '/api/roles', { name: 'auditor', permissions: ['audit:read'] })).statusCode).toBe(201);
    expect((await p.call('POST', `/api/users/${plain.id}/roles`, { roles: ['auditor'] })).statusCode).toBe(403);
    // A role within what it holds: allowed.
    expect((await root.call('POST', '/api/roles', { name: 'reader', permissions: ['users:read'] })).statusCode).toBe(201);
    expect((await p.call('POST', `/api/users/${plain.id}/roles`, { roles: ['reader'] })).statusCode).toBe(200);
    expect((await root.call('GET', `/api/users/${plain.id}/roles`)).json().roles).toEqual(['reader']);
  });

  it('users:write cannot change, deactivate, delete or sign out a user who holds more', async () => {
    const p = await holding(['users:read', 'users:write']);
    for (const [method, url, body] of [
      ['PATCH', `/api/users/${adminUserId}`, { password: 'taken over passphrase 1' }],
      ['PATCH', `/api/users/${adminUserId}`, { email: email('mine') }],
      ['PATCH', `/api/users/${adminUserId}`, { active: false }],
      ['DELETE', `/api/users/${adminUserId}?confirm=true`, undefined],
      ['DELETE', `/api/users/${adminUserId}/roles/admin?confirm=true`, undefined],
      ['POST', `/api/users/${adminUserId}/sessions/revoke`, undefined],
    ] as const) {
      expect((await p.call(method, url, body)).statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await root.call('GET', `/api/users/${adminUserId}`)).json()).toMatchObject({ active: true, roles: ['admin'] });
    // A user holding no more than p: allowed.
    const plain = (await root.call('POST', '/api/users', { email: email('plain') })).json();
    expect((await p.call('PATCH', `/api/users/${plain.id}`, { fullName: 'Changed' })).statusCode).toBe(200);
    expect((await p.call('POST', `/api/users/${plain.id}/sessions/revoke`)).statusCode).toBe(200);
  });

  it('a deactivated administrator is still an administrator: users:write cannot reactivate them', async () => {
    const p = await holding(['users:read', 'users:write']);
    const dormant = (await root.call('POST', '/api/users', { email: email('dormant') })).json();
    await root.call('POST', `/api/users/${dormant.id}/roles`, { roles: ['admin'] });
    expect((await root.call('PATCH', `/api/users/${dormant.id}`, { active: false })).statusCode).toBe(200);
    expect((await p.call('PATCH', `/api/users/${dormant.id}`, { active: true })).statusCode).toBe(403);
  });
});

describe('role definitions', () => {
  it('roles:write cannot edit a role it holds, nor add a permission it lacks', async () => {
    const p = await holding(['roles:read', 'roles:write']);
    expect((await p.call('PATCH', `/api/roles/${p.role}`, { permissions: ['roles:read', 'roles:write', 'users:write'] })).statusCode).toBe(403);
    expect((await p.call('PATCH', `/api/roles/${p.role}`, { description: 'mine' })).statusCode).toBe(403);
    expect((await p.call('POST', '/api/roles', { name: `x${++seq}`, permissions: ['users:write'] })).statusCode).toBe(403);
    const other = `o${++seq}`;
    expect((await root.call('POST', '/api/roles', { name: other, permissions: [] })).statusCode).toBe(201);
    expect((await p.call('PATCH', `/api/roles/${other}`, { permissions: ['audit:read'] })).statusCode).toBe(403);
    // Within what it holds: allowed.
    expect((await p.call('PATCH', `/api/roles/${other}`, { permissions: ['roles:read'] })).statusCode).toBe(200);
    expect((await p.call('POST', '/api/roles', { name: `y${++seq}`, permissions: ['roles:read'] })).statusCode).toBe(201);
    // Removing a permission it does not hold from another role is no grant.
    expect((await root.call('PATCH', `/api/roles/${other}`, { permissions: ['roles:read', 'audit:read'] })).statusCode).toBe(200);
    expect((await p.call('PATCH', `/api/roles/${other}`, { permissions: ['roles:read'] })).statusCode).toBe(200);
  });
});

describe('downstream clients', () => {
  it('downstream:write cannot give a client iam/ or SCIM scopes, nor touch a client that has them', async () => {
    const p = await holding(['downstream:read', 'downstream:write']);
    for (const scope of ['iam/', 'scim.read', 'scim.write']) {
      expect((await p.call('PUT', `/api/downstream/MachineClient/esc-${++seq}`, { displayName: 'x', allowedScopes: [scope] })).statusCode, scope).toBe(403);
    }
    expect((await p.call('PUT', '/api/downstream/InteractiveApplication/esc-app', { displayName: 'x', allowedScopes: ['openid', 'iam/'], redirectUris: ['https://a.example.com/cb'] })).statusCode).toBe(403);
    // The bootstrap client holds iam/: its secrets are administrator power.
    const bootstrap = root.tenant.clientId;
    expect((await p.call('POST', `/api/downstream/MachineClient/${bootstrap}/secrets`, {})).statusCode).toBe(403);
    expect((await p.call('PUT', `/api/downstream/MachineClient/${bootstrap}`, { displayName: 'mine', allowedScopes: ['iam/'], clientSecret: 'z'.repeat(40) })).statusCode).toBe(403);
    expect((await p.call('DELETE', `/api/downstream/MachineClient/${bootstrap}`)).statusCode).toBe(403);
    const secrets = (await root.call('GET', `/api/downstream/MachineClient/${bootstrap}/secrets`)).json();
    expect(secrets).toHaveLength(1);
    // Other APIs' scopes: allowed, and so is a secret for that client.
    expect((await p.call('PUT', '/api/downstream/MachineClient/dam-only', { displayName: 'DAM', allowedScopes: ['damapi/'] })).statusCode).toBe(201);
    expect((await p.call('POST', '/api/downstream/MachineClient/dam-only/secrets', {})).statusCode).toBe(201);
  });

  it('the management API honours iam/ only from clients an administrator made', async () => {
    // The token of a client made by downstream:write cannot open admin-only routes, because it cannot get iam/.
    const p = await holding(['downstream:read', 'downstream:write']);
    expect((await p.call('PUT', '/api/downstream/MachineClient/keys-thief', { displayName: 't', allowedScopes: ['iam/'], clientSecret: 't'.repeat(40) })).statusCode).toBe(403);
    const token = await env.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { host: root.tenant.host, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=client_credentials&client_id=keys-thief&client_secret=${'t'.repeat(40)}&scope=iam/`,
    });
    expect(token.statusCode).toBe(401);
  });
});

describe('upstream providers', () => {
  const provider = (over: Record<string, unknown> = {}) => ({
    displayName: 'Corp',
    clientId: '33333333-3333-3333-3333-333333333333',
    clientSecret: 'upstream-secret',
    tenantId: '11111111-1111-1111-1111-111111111111',
    trustAllUsers: false,
    defaultUserRoles: [],
    ...over,
  });

  it('upstream:write cannot create a provider or change whom it trusts; other fields it may change', async () => {
    const p = await holding(['upstream:read', 'upstream:write']);
    const created = await p.call('PUT', '/api/upstream/AzureAd/new-one', provider());
    expect(created.statusCode, created.body).toBe(403);
    expect((await root.call('PUT', '/api/upstream/AzureAd/corp', provider())).statusCode).toBe(201);
    for (const change of [
      { discoveryUrl: 'https://evil.example.com/.well-known/openid-configuration' },
      { trustAllUsers: true },
      { domains: ['example.com'] },
      { tenantId: '22222222-2222-2222-2222-222222222222' },
    ]) {
      expect((await p.call('PUT', '/api/upstream/AzureAd/corp', provider({ ...change, clientSecret: undefined }))).statusCode, JSON.stringify(change)).toBe(403);
    }
    expect((await p.call('PUT', '/api/upstream/AzureAd/corp', provider({ defaultUserRoles: ['admin'], clientSecret: undefined }))).statusCode).toBe(403);
    expect((await root.call('POST', '/api/roles', { name: 'up-audit', permissions: ['audit:read'] })).statusCode).toBe(201);
    expect((await p.call('PUT', '/api/upstream/AzureAd/corp', provider({ defaultUserRoles: ['up-audit'], clientSecret: undefined }))).statusCode).toBe(403);
    const res = await p.call('PUT', '/api/upstream/AzureAd/corp', provider({ displayName: 'Corp renamed', clientSecret: 'rotated-secret', clientSecretExpiresAt: '2030-01-01T00:00:00Z' }));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ displayName: 'Corp renamed', trustAllUsers: false, defaultUserRoles: [] });
  });
});

describe('the permission matrix', () => {
  it('every single permission: admin-only routes refuse it, and its own area accepts it', async () => {
    for (const permission of PERMISSIONS) {
      const p = await holding([permission]);
      expect((await p.call('GET', '/api/tenant')).statusCode, permission).toBe(403);
      expect((await p.call('POST', '/api/keys/rotate')).statusCode, permission).toBe(403);
      expect((await p.call('POST', `/api/users/${p.id}/roles`, { roles: ['admin'] })).statusCode, permission).toBe(403);
      expect((await p.call('PATCH', `/api/roles/${p.role}`, { permissions: [...PERMISSIONS] })).statusCode, permission).toBe(403);
      expect((await p.call('PUT', `/api/downstream/MachineClient/m-${++seq}`, { displayName: 'x', allowedScopes: ['iam/'] })).statusCode, permission).toBe(403);
      const read: Record<string, string> = { users: '/api/users', roles: '/api/roles', upstream: '/api/upstream', downstream: '/api/downstream', audit: '/api/audit', organizations: '/api/organizations', connections: '/api/connections?domain=example.com', directories: '/api/organizations/00000000-0000-4000-8000-000000000000/directories', events: '/api/events', webhooks: '/api/webhooks' };
      const [area, verb] = permission.split(':') as [string, string];
      // Directories live under an organization: an unknown one is 404, which only a caller past the permission sees.
      if (verb === 'read') expect((await p.call('GET', read[area]!)).statusCode, permission).toBe(area === 'directories' ? 404 : 200);
    }
  });

  it('every management route declares its permission in its route options', () => {
    const routes = env.app.services.routePermissions;
    expect(routes.size).toBeGreaterThan(30);
    for (const [route, permission] of routes) expect([...PERMISSIONS, 'admin'], route).toContain(permission);
    expect(routes.get('POST /api/users/:userId/roles')).toBe('users:write');
    expect(routes.get('POST /api/keys/:kid/revoke')).toBe('admin');
  });
});
