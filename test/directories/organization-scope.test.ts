/**
 * Organization-scoped machine clients and the directories (issue #12 item 5, ADR 0009): a client bound to
 * organization X reaches X's directories, their tokens, mappings and Directory API, and gets 404 for Y's on every
 * route, exactly as for an unknown id. The matrix covers every route the directories capability registers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { directoryScimClient, user, GROUP } from '../scim/support.ts';

let env: TestEnv;
let admin: Api;
let clientToken: string;
const x = { org: '', dir: '', user: '', group: '', token: '' };
const y = { org: '', dir: '', user: '', group: '', token: '' };
const SECRET = 'o'.repeat(40);

async function side(target: typeof x) {
  const c = await directoryScimClient(env, admin.tenant);
  target.org = c.organizationId;
  target.dir = c.directoryId;
  target.user = (await c.call('POST', '/Users', user(`u-${c.directoryId.slice(0, 8)}@example.com`))).json().id;
  target.group = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'G' })).json().id;
  target.token = (await admin.call('GET', `/api/directories/${c.directoryId}/tokens`)).json().items[0].id;
}

beforeAll(async () => {
  env = await testEnv();
  admin = await apiFor(env, await env.newTenant());
  await side(x);
  await side(y);
  const put = await admin.call('PUT', '/api/downstream/MachineClient/x-dirsync', { displayName: 'X directory sync', allowedScopes: ['iam/organization'], organizationId: x.org, clientSecret: SECRET });
  expect(put.statusCode, put.body).toBe(201);
  const res = await env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: admin.tenant.host, authorization: basic('x-dirsync', SECRET), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope: 'iam/organization' }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  clientToken = res.json().access_token;
});
afterAll(() => env.close());

const as = (method: string, url: string, body?: unknown) =>
  env.app.inject({
    method: method as 'GET',
    url,
    headers: { host: admin.tenant.host, authorization: `Bearer ${clientToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });

type Row = { method: string; path: string; url: (s: typeof x) => string; body?: unknown; ownStatus: number };
const rows: Row[] = [
  { method: 'POST', path: '/api/organizations/:organizationId/directories', url: (s) => `/api/organizations/${s.org}/directories`, body: { displayName: 'Second' }, ownStatus: 201 },
  { method: 'GET', path: '/api/organizations/:organizationId/directories', url: (s) => `/api/organizations/${s.org}/directories`, ownStatus: 200 },
  { method: 'GET', path: '/api/organizations/:organizationId/directories/primary', url: (s) => `/api/organizations/${s.org}/directories/primary`, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId', url: (s) => `/api/directories/${s.dir}`, ownStatus: 200 },
  { method: 'PATCH', path: '/api/directories/:directoryId', url: (s) => `/api/directories/${s.dir}`, body: { displayName: 'Renamed' }, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId/tokens', url: (s) => `/api/directories/${s.dir}/tokens`, ownStatus: 200 },
  { method: 'POST', path: '/api/directories/:directoryId/tokens', url: (s) => `/api/directories/${s.dir}/tokens`, body: {}, ownStatus: 201 },
  { method: 'GET', path: '/api/directories/:directoryId/role-mappings', url: (s) => `/api/directories/${s.dir}/role-mappings`, ownStatus: 200 },
  { method: 'PUT', path: '/api/directories/:directoryId/role-mappings/:groupId', url: (s) => `/api/directories/${s.dir}/role-mappings/${s.group}`, body: { roles: ['member'] }, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId/users', url: (s) => `/api/directories/${s.dir}/users`, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId/users/:userId', url: (s) => `/api/directories/${s.dir}/users/${s.user}`, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId/groups', url: (s) => `/api/directories/${s.dir}/groups`, ownStatus: 200 },
  { method: 'GET', path: '/api/directories/:directoryId/groups/:groupId', url: (s) => `/api/directories/${s.dir}/groups/${s.group}`, ownStatus: 200 },
  // Removals last: the own row really removes; the foreign one must leave Y untouched.
  { method: 'DELETE', path: '/api/directories/:directoryId/role-mappings/:groupId', url: (s) => `/api/directories/${s.dir}/role-mappings/${s.group}`, ownStatus: 204 },
  { method: 'DELETE', path: '/api/directories/:directoryId/tokens/:tokenId', url: (s) => `/api/directories/${s.dir}/tokens/${s.token}`, ownStatus: 204 },
  { method: 'DELETE', path: '/api/directories/:directoryId', url: (s) => `/api/directories/${s.dir}`, ownStatus: 204 },
];

describe('cross-organization matrix: every directories route', () => {
  it('covers every route of the directories capability', () => {
    const registered = [...env.app.services.routePermissions.keys()].filter((k) => /directories/.test(k) && !k.startsWith('HEAD '));
    expect(registered.toSorted()).toEqual(rows.map((r) => `${r.method} ${r.path}`).toSorted());
  });

  it.each(rows.map((r) => [`${r.method} ${r.path}`, r] as const))('%s: own organization as expected, the other one 404', async (_name, row) => {
    const f = await as(row.method, row.url(y), row.body);
    expect(f.statusCode, f.body).toBe(404);
    expect(f.json().detail).toMatch(/^No (organization|directory) with this id in this tenant\.$/);
    const o = await as(row.method, row.url(x), row.body);
    expect(o.statusCode, o.body).toBe(row.ownStatus);
  });

  it("Y is untouched by all of the above", async () => {
    const d = (await admin.call('GET', `/api/directories/${y.dir}`)).json();
    expect(d).toMatchObject({ displayName: 'Entra ID', userCount: 1, groupCount: 1 });
    expect((await admin.call('GET', `/api/directories/${y.dir}/tokens`)).json().items.filter((t: { revokedAt: string | null }) => t.revokedAt === null)).toHaveLength(1);
    expect((await admin.call('GET', `/api/organizations/${y.org}/directories`)).json().items).toHaveLength(1);
  });
});
