/** `/api/roles` and `/api/users/{userId}/roles`: the built-in admin, custom roles, assignments, last-admin protection. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { authorityOfUser } from '../../src/users/service.ts';
import { satisfies, type Permission } from '../../src/platform/permissions.ts';

const hasPermission = async (scope: Parameters<typeof authorityOfUser>[0], userId: string, p: Permission) => satisfies(await authorityOfUser(scope, userId), p);
import { PERMISSIONS } from '../../src/platform/permissions.ts';
import { apiFor, email, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const newUser = async (a: Api, extra: Record<string, unknown> = {}) => {
  const res = await a.call('POST', '/api/users', { email: email(), ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; email: string };
};
const actions = async (a: Api, query: string) => (await a.call('GET', `/api/audit?${query}`)).json().items.map((e: { action: string }) => e.action);

describe('roles', () => {
  it('every tenant has the built-in admin role, with every permission, that cannot be changed or deleted', async () => {
    const list = (await api.call('GET', '/api/roles')).json();
    expect(list.items).toContainEqual(expect.objectContaining({ name: 'admin', builtIn: true, permissions: [...PERMISSIONS] }));
    expect((await api.call('GET', '/api/roles/admin')).json()).toMatchObject({ name: 'admin', builtIn: true });
    const change = await api.call('PATCH', '/api/roles/admin', { permissions: [] });
    expect(change.statusCode).toBe(409);
    expect(change.json().reason).toBe('built-in');
    expect((await api.call('DELETE', '/api/roles/admin')).statusCode).toBe(409);
    expect((await api.call('POST', '/api/roles', { name: 'admin', permissions: [] })).statusCode).toBe(409);
  });

  it('custom roles: create, read, change, delete, each audited', async () => {
    const created = await api.call('POST', '/api/roles', { name: 'support', description: 'Helpdesk', permissions: ['users:read', 'users:read', 'audit:read'] });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/api/roles/support');
    expect(created.json()).toMatchObject({ name: 'support', description: 'Helpdesk', permissions: ['users:read', 'audit:read'], builtIn: false });
    expect((await api.call('POST', '/api/roles', { name: 'support', permissions: [] })).statusCode).toBe(409);
    const changed = await api.call('PATCH', '/api/roles/support', { permissions: ['users:write'] });
    expect(changed.json()).toMatchObject({ description: 'Helpdesk', permissions: ['users:write'] });
    expect((await api.call('DELETE', '/api/roles/support')).statusCode).toBe(204);
    expect((await api.call('GET', '/api/roles/support')).statusCode).toBe(404);
    expect(await actions(api, 'targetType=role&targetId=support')).toEqual(['role.delete', 'role.update', 'role.create']);
  });

  it('unknown permissions and bad role names → 400', async () => {
    const res = await api.call('POST', '/api/roles', { name: 'x', permissions: ['users:read', 'everything'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].path).toBe('/permissions/1');
    for (const name of ['Upper', '-dash', 'a b', 'x'.repeat(65), 'é']) {
      expect((await api.call('POST', '/api/roles', { name, permissions: [] })).statusCode, name).toBe(400);
    }
    expect((await api.call('GET', '/api/roles/Not%20A%20Name')).statusCode).toBe(400);
    expect((await api.call('POST', '/api/roles', { name: 'y', permissions: [], builtIn: true })).statusCode).toBe(400);
  });

  it('deleting a role removes it from its holders; one named by an upstream provider is refused (409 naming it)', async () => {
    await api.call('POST', '/api/roles', { name: 'viewer', permissions: ['users:read'] });
    const u = await newUser(api);
    await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['viewer'] });
    await api.call('PUT', '/api/upstream/Google/workspace', { displayName: 'G', clientId: 'g', clientSecret: 's3cret-value', defaultUserRoles: ['viewer'] });
    const refused = await api.call('DELETE', '/api/roles/viewer');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().providers).toEqual(['Google/workspace']);
    await api.call('PUT', '/api/upstream/Google/workspace', { displayName: 'G', clientId: 'g', defaultUserRoles: [] });
    expect((await api.call('DELETE', '/api/roles/viewer')).statusCode).toBe(204);
    expect((await api.call('GET', `/api/users/${u.id}/roles`)).json().roles).toEqual([]);
  });

  it('lists page by name', async () => {
    const t = await apiFor(env, await env.newTenant());
    for (const n of ['r1', 'r2', 'r3']) await t.call('POST', '/api/roles', { name: n, permissions: [] });
    const first = (await t.call('GET', '/api/roles?limit=2')).json();
    expect(first.items.map((r: { name: string }) => r.name)).toEqual(['admin', 'r1']);
    const second = (await t.call('GET', `/api/roles?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second).toMatchObject({ items: [{ name: 'r2' }, { name: 'r3' }], nextCursor: null });
  });
});

describe('role assignments', () => {
  it('POST /api/users/{userId}/roles is idempotent: a repeat changes nothing and records nothing', async () => {
    const u = await newUser(api);
    const first = await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin'] });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ userId: u.id, roles: ['admin'] });
    const again = await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin', 'admin'] });
    expect(again.json()).toEqual({ userId: u.id, roles: ['admin'] });
    expect(await actions(api, `targetId=${u.id}`)).toEqual(['user.roles.add', 'user.create']);
    expect((await api.call('GET', `/api/users/${u.id}/roles`)).json()).toEqual({ userId: u.id, roles: ['admin'] });
    // A role change is a change of the user: its version (ETag) moves on.
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toMatchObject({ roles: ['admin'], version: 2 });
  });

  it('unknown roles → 400 naming them; nothing is assigned', async () => {
    const u = await newUser(api);
    const res = await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin', 'superuser', 'root'] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ status: 400, unknownRoles: ['superuser', 'root'] });
    expect(res.json().detail).toContain('superuser');
    expect((await api.call('GET', `/api/users/${u.id}/roles`)).json().roles).toEqual([]);
    expect((await api.call('POST', `/api/users/${u.id}/roles`, { roles: [] })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/users/${u.id}/roles`, { roles: 'admin' })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin'], extra: 1 })).statusCode).toBe(400);
  });

  it('DELETE /api/users/{userId}/roles/{role}: 200 with the remaining roles; 404 when not held; 400 for an unknown role', async () => {
    await api.call('POST', '/api/roles', { name: 'auditor', permissions: ['audit:read'] });
    const u = await newUser(api);
    await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['auditor'] });
    const res = await api.call('DELETE', `/api/users/${u.id}/roles/auditor`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ userId: u.id, roles: [] });
    expect((await api.call('DELETE', `/api/users/${u.id}/roles/auditor`)).statusCode).toBe(404);
    const unknown = await api.call('DELETE', `/api/users/${u.id}/roles/nosuchrole`);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().unknownRoles).toEqual(['nosuchrole']);
    const [event] = (await api.call('GET', `/api/audit?targetId=${u.id}&action=user.roles.remove`)).json().items;
    expect(event).toMatchObject({ before: { roles: ['auditor'] }, after: { roles: [] } });
  });

  it('unknown and invalid user ids → 404 and 400', async () => {
    const missing = '0b5d7a4e-6f8f-4c1e-9b3e-2a4e1c0d9f00';
    expect((await api.call('GET', `/api/users/${missing}/roles`)).statusCode).toBe(404);
    expect((await api.call('POST', `/api/users/${missing}/roles`, { roles: ['admin'] })).statusCode).toBe(404);
    expect((await api.call('DELETE', `/api/users/${missing}/roles/admin`)).statusCode).toBe(404);
    expect((await api.call('GET', '/api/users/nope/roles')).statusCode).toBe(400);
  });
});

describe('the last administrator', () => {
  it('removing admin from the last active administrator needs ?confirm=true (409 otherwise); with two, the first goes freely', async () => {
    const t = await apiFor(env, await env.newTenant());
    const a = await newUser(t);
    const b = await newUser(t);
    await t.call('POST', `/api/users/${a.id}/roles`, { roles: ['admin'] });
    await t.call('POST', `/api/users/${b.id}/roles`, { roles: ['admin'] });
    expect((await t.call('DELETE', `/api/users/${a.id}/roles/admin`)).statusCode).toBe(200);
    const refused = await t.call('DELETE', `/api/users/${b.id}/roles/admin`);
    expect(refused.statusCode).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ status: 409, reason: 'last-admin' });
    expect(refused.json().detail).toContain('confirm=true');
    expect((await t.call('GET', `/api/users/${b.id}/roles`)).json().roles).toEqual(['admin']);
    expect((await t.call('DELETE', `/api/users/${b.id}/roles/admin?confirm=false`)).statusCode).toBe(409);
    expect((await t.call('DELETE', `/api/users/${b.id}/roles/admin?confirm=true`)).statusCode).toBe(200);
  });

  it('deleting the last active administrator needs ?confirm=true too; an inactive admin does not count', async () => {
    const t = await apiFor(env, await env.newTenant());
    const a = await newUser(t);
    const inactive = await newUser(t, { active: false });
    await t.call('POST', `/api/users/${a.id}/roles`, { roles: ['admin'] });
    await t.call('POST', `/api/users/${inactive.id}/roles`, { roles: ['admin'] });
    expect((await t.call('DELETE', `/api/users/${a.id}`)).statusCode).toBe(409);
    expect((await t.call('GET', `/api/users/${a.id}`)).statusCode).toBe(200);
    expect((await t.call('DELETE', `/api/users/${a.id}?confirm=true`)).statusCode).toBe(204);
    // The inactive holder is no administrator to protect.
    expect((await t.call('DELETE', `/api/users/${inactive.id}/roles/admin`)).statusCode).toBe(200);
  });

  it('the last two administrators removed at the same time: exactly one removal passes', async () => {
    const t = await apiFor(env, await env.newTenant());
    const a = await newUser(t);
    const b = await newUser(t);
    await t.call('POST', `/api/users/${a.id}/roles`, { roles: ['admin'] });
    await t.call('POST', `/api/users/${b.id}/roles`, { roles: ['admin'] });
    const results = await Promise.all([t.call('DELETE', `/api/users/${a.id}/roles/admin`), t.call('DELETE', `/api/users/${b.id}`)]);
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 409)).toHaveLength(1);
    expect(codes.filter((c) => c === 200 || c === 204)).toHaveLength(1);
    expect((await t.call('GET', '/api/users?role=admin')).json().items).toHaveLength(1);
  });
});

describe('authorityOfUser (for the auth layer)', () => {
  it('admin grants everything; a custom role grants what it lists; inactive users and strangers get nothing', async () => {
    const scope = forTenant(env.database.db, api.tenant.tenant.id);
    await api.call('POST', '/api/roles', { name: 'reader', permissions: ['users:read'] });
    const admin = await newUser(api);
    const reader = await newUser(api);
    const nobody = await newUser(api);
    await api.call('POST', `/api/users/${admin.id}/roles`, { roles: ['admin'] });
    await api.call('POST', `/api/users/${reader.id}/roles`, { roles: ['reader'] });
    for (const p of PERMISSIONS) expect(await hasPermission(scope, admin.id, p)).toBe(true);
    expect(await hasPermission(scope, reader.id, 'users:read')).toBe(true);
    expect(await hasPermission(scope, reader.id, 'users:write')).toBe(false);
    expect(await hasPermission(scope, nobody.id, 'users:read')).toBe(false);
    await api.call('PATCH', `/api/users/${reader.id}`, { active: false });
    expect(await hasPermission(scope, reader.id, 'users:read')).toBe(false);
    // Another tenant's scope knows nothing of these users.
    expect(await hasPermission(forTenant(env.database.db, other.tenant.tenant.id), admin.id, 'users:read')).toBe(false);
  });
});

describe("tenant isolation: tenant B's token on B's host, addressing A's roles and users", () => {
  it("A's custom role is invisible and untouchable at B; B's own role of the same name is B's", async () => {
    await api.call('POST', '/api/roles', { name: 'a-only', description: 'A', permissions: ['users:read'] });
    expect((await other.call('GET', '/api/roles/a-only')).statusCode).toBe(404);
    expect((await other.call('PATCH', '/api/roles/a-only', { description: 'pwned' })).statusCode).toBe(404);
    expect((await other.call('DELETE', '/api/roles/a-only')).statusCode).toBe(404);
    expect((await other.call('GET', '/api/roles')).json().items.map((r: { name: string }) => r.name)).not.toContain('a-only');
    expect((await other.call('POST', '/api/roles', { name: 'a-only', permissions: [] })).statusCode).toBe(201);
    expect((await api.call('GET', '/api/roles/a-only')).json()).toMatchObject({ description: 'A', permissions: ['users:read'] });
  });

  it("A's user's roles: GET, POST and DELETE from B → 404; A's assignments are unchanged", async () => {
    const u = await newUser(api);
    await api.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin'] });
    expect((await other.call('GET', `/api/users/${u.id}/roles`)).statusCode).toBe(404);
    expect((await other.call('POST', `/api/users/${u.id}/roles`, { roles: ['admin'] })).statusCode).toBe(404);
    expect((await other.call('DELETE', `/api/users/${u.id}/roles/admin?confirm=true`)).statusCode).toBe(404);
    expect((await other.call('GET', `/api/users?role=admin&limit=200`)).json().items.map((x: { id: string }) => x.id)).not.toContain(u.id);
    expect((await api.call('GET', `/api/users/${u.id}`)).json()).toMatchObject({ roles: ['admin'], version: 2 });
  });
});
