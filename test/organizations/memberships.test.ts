/** `/api/organizations/{id}/members`: add, change roles, remove, list; `membershipOf` for the oauth side. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { membershipOf } from '../../src/organizations/service.ts';

let env: TestEnv;
let api: Api;
let other: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const newOrg = async (a: Api = api) => (await a.call('POST', '/api/organizations', { displayName: 'Org' })).json().id as string;
const newUser = async (a: Api = api) => (await a.call('POST', '/api/users', { email: email('m') })).json().id as string;
const scope = () => forTenant(env.database.db, api.tenant.tenant.id);

it('adds a member with roles (201), changes the roles (200), reads, lists and removes it, each change audited', async () => {
  const org = await newOrg();
  const user = await newUser();
  const added = await api.call('PUT', `/api/organizations/${org}/members/${user}`, { roles: ['member', 'billing', 'member'] });
  expect(added.statusCode, added.body).toBe(201);
  expect(added.json()).toMatchObject({ organizationId: org, userId: user, roles: ['billing', 'member'] });

  const changed = await api.call('PUT', `/api/organizations/${org}/members/${user}`, { roles: ['admin'] });
  expect(changed.statusCode).toBe(200);
  expect(changed.json().roles).toEqual(['admin']);
  expect((await api.call('GET', `/api/organizations/${org}/members/${user}`)).json().roles).toEqual(['admin']);
  expect((await api.call('GET', `/api/organizations/${org}/members`)).json()).toMatchObject({ items: [{ userId: user, roles: ['admin'] }], nextCursor: null });

  expect(await membershipOf(scope(), org, user)).toEqual({ organizationId: org, roles: ['admin'] });

  expect((await api.call('DELETE', `/api/organizations/${org}/members/${user}`)).statusCode).toBe(204);
  expect((await api.call('DELETE', `/api/organizations/${org}/members/${user}`)).statusCode).toBe(404);
  expect((await api.call('GET', `/api/organizations/${org}/members/${user}`)).statusCode).toBe(404);
  expect(await membershipOf(scope(), org, user)).toBeUndefined();
  expect((await api.call('GET', `/api/users/${user}`)).statusCode).toBe(200);

  const audit = (await api.call('GET', `/api/audit?targetType=organization&targetId=${org}`)).json().items;
  expect(audit.map((e: { action: string }) => e.action)).toEqual([
    'organization.membership.remove',
    'organization.membership.update',
    'organization.membership.add',
    'organization.create',
  ]);
  expect(audit[1]).toMatchObject({ before: { userId: user, roles: ['billing', 'member'] }, after: { userId: user, roles: ['admin'] } });
});

it('setting the same roles again is 200 and writes no audit entry; no body means no roles', async () => {
  const org = await newOrg();
  const user = await newUser();
  const first = await api.raw('PUT', `/api/organizations/${org}/members/${user}`, '{}');
  expect(first.statusCode, first.body).toBe(201);
  expect(first.json().roles).toEqual([]);
  expect((await api.call('PUT', `/api/organizations/${org}/members/${user}`, { roles: [] })).statusCode).toBe(200);
  const actions = (await api.call('GET', `/api/audit?targetType=organization&targetId=${org}`)).json().items.map((e: { action: string }) => e.action);
  expect(actions).toEqual(['organization.membership.add', 'organization.create']);
});

it('a user can belong to several organizations with different roles', async () => {
  const [a, b] = [await newOrg(), await newOrg()];
  const user = await newUser();
  await api.call('PUT', `/api/organizations/${a}/members/${user}`, { roles: ['admin'] });
  await api.call('PUT', `/api/organizations/${b}/members/${user}`, { roles: ['viewer'] });
  expect(await membershipOf(scope(), a, user)).toEqual({ organizationId: a, roles: ['admin'] });
  expect(await membershipOf(scope(), b, user)).toEqual({ organizationId: b, roles: ['viewer'] });
});

it('unknown or foreign users and organizations are 404; bad roles are 400', async () => {
  const org = await newOrg();
  const foreignUser = await newUser(other);
  const missing = await api.call('PUT', `/api/organizations/${org}/members/${foreignUser}`, { roles: [] });
  expect(missing.statusCode).toBe(404);
  expect(missing.json().field).toBe('userId');
  expect((await api.call('PUT', `/api/organizations/${crypto.randomUUID()}/members/${await newUser()}`, { roles: [] })).statusCode).toBe(404);
  expect((await api.call('GET', `/api/organizations/${crypto.randomUUID()}/members`)).statusCode).toBe(404);
  const user = await newUser();
  for (const roles of [['Has Space'], [''], Array.from({ length: 21 }, (_, i) => `r${i}`), 'admin']) {
    expect((await api.call('PUT', `/api/organizations/${org}/members/${user}`, { roles })).statusCode, JSON.stringify(roles)).toBe(400);
  }
  // membershipOf takes ids from tokens and requests: anything malformed is simply no membership.
  expect(await membershipOf(scope(), 'not-a-uuid', user)).toBeUndefined();
  expect(await membershipOf(forTenant(env.database.db, other.tenant.tenant.id), org, user)).toBeUndefined();
});

it('deleting a user ends their memberships', async () => {
  const org = await newOrg();
  const user = await newUser();
  await api.call('PUT', `/api/organizations/${org}/members/${user}`, { roles: ['admin'] });
  expect((await api.call('DELETE', `/api/users/${user}`)).statusCode).toBe(204);
  expect(await membershipOf(scope(), org, user)).toBeUndefined();
  expect((await api.call('GET', `/api/organizations/${org}/members`)).json().items).toEqual([]);
});

it('pages through the members in the order they were added', async () => {
  const org = await newOrg();
  const users: string[] = [];
  for (let i = 0; i < 5; i++) {
    users.push(await newUser());
    await api.call('PUT', `/api/organizations/${org}/members/${users.at(-1)}`, { roles: [] });
  }
  const first = (await api.call('GET', `/api/organizations/${org}/members?limit=2`)).json();
  const second = (await api.call('GET', `/api/organizations/${org}/members?limit=2&cursor=${first.nextCursor}`)).json();
  const third = (await api.call('GET', `/api/organizations/${org}/members?limit=2&cursor=${second.nextCursor}`)).json();
  expect([...first.items, ...second.items, ...third.items].map((m: { userId: string }) => m.userId)).toEqual(users);
  expect(third.nextCursor).toBeNull();
});
