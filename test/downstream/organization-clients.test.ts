/**
 * Organization-scoped machine clients (ADR 0009, issue #12 item 5): a MachineClient bound to an organization gets
 * `org_id` in its client_credentials tokens, cannot hold tenant-wide scopes, and with its token every
 * `/api/organizations/{id}/…` route answers for its own organization only. The matrix below covers every
 * organizations route the app registers (a new route fails the coverage check until it is added here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';

let env: TestEnv;
let dns: TestDnsServer;
let admin: Api;
let otherTenant: Api;
let orgX: string;
let orgY: string;
let userX: string;
let userY: string;
let domainX: string;
let domainY: string;
let invitationX: string;
let invitationY: string;
let clientToken: string;
const SECRET = 'o'.repeat(40);

async function tokenFor(tenant: TestTenant, clientId: string, secret: string, scope?: string) {
  return env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: tenant.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }).toString(),
  });
}

function as(token: string, method: string, url: string, body?: unknown, host = admin.tenant.host) {
  return env.app.inject({
    method: method as 'GET',
    url,
    headers: { host, authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

const org = async (name: string, externalId: string) => (await admin.call('POST', '/api/organizations', { displayName: name, externalId })).json().id as string;
const member = async (organizationId: string) => {
  const id = (await admin.call('POST', '/api/users', { email: email('m') })).json().id as string;
  expect((await admin.call('PUT', `/api/organizations/${organizationId}/members/${id}`, { roles: ['member'] })).statusCode).toBe(201);
  return id;
};
const domain = async (organizationId: string, name: string) => {
  const res = await admin.call('POST', `/api/organizations/${organizationId}/domains`, { domain: name });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
};

beforeAll(async () => {
  dns = await startDnsServer();
  env = await testEnv({ DNS_SERVERS: `127.0.0.1:${dns.port}` });
  admin = await apiFor(env, await env.newTenant());
  otherTenant = await apiFor(env, await env.newTenant());
  orgX = await org('X Corp', 'ext-x');
  orgY = await org('Y Corp', 'ext-y');
  userX = await member(orgX);
  userY = await member(orgY);
  domainX = await domain(orgX, 'x-corp.example');
  domainY = await domain(orgY, 'y-corp.example');
  const dirY = await admin.call('POST', `/api/organizations/${orgY}/directories`, { displayName: 'Y Entra' });
  expect(dirY.statusCode, dirY.body).toBe(201);
  const invitation = async (org: string, address: string) => (await admin.call('POST', `/api/organizations/${org}/invitations`, { email: address, send: false })).json().id as string;
  invitationX = await invitation(orgX, 'invited-x@x-corp.example');
  invitationY = await invitation(orgY, 'invited-y@y-corp.example');
  const put = await admin.call('PUT', '/api/downstream/MachineClient/x-sync', { displayName: 'X sync', allowedScopes: ['iam/organization', 'damapi/'], organizationId: orgX, clientSecret: SECRET });
  expect(put.statusCode, put.body).toBe(201);
  const res = await tokenFor(admin.tenant, 'x-sync', SECRET, 'iam/organization');
  expect(res.statusCode, res.body).toBe(200);
  clientToken = res.json().access_token;
});
afterAll(async () => {
  await env.close();
  await dns.close();
});

describe('creating an organization-scoped client', () => {
  it('records organizationId on the client and in the audit trail', async () => {
    const got = await admin.call('GET', '/api/downstream/MachineClient/x-sync');
    expect(got.json()).toMatchObject({ clientId: 'x-sync', organizationId: orgX, allowedScopes: ['iam/organization', 'damapi/'] });
    const audit = (await admin.call('GET', '/api/audit?targetType=client&targetId=x-sync')).json().items;
    expect(audit.find((e: { action: string }) => e.action === 'client.create')).toMatchObject({ after: { organizationId: orgX } });
    // A tenant-wide client says so.
    expect((await admin.call('GET', `/api/downstream/MachineClient/${admin.tenant.clientId}`)).json().organizationId).toBeNull();
  });

  it('refuses tenant-wide scopes on a bound client, and iam/organization on any other', async () => {
    for (const scope of ['iam/', 'scim.read', 'scim.write']) {
      const res = await admin.call('PUT', '/api/downstream/MachineClient/x-wide', { displayName: 'Wide', allowedScopes: ['iam/organization', scope], organizationId: orgX });
      expect(res.statusCode, scope).toBe(400);
      expect(res.json().detail).toContain(scope);
    }
    expect((await admin.call('PUT', '/api/downstream/MachineClient/unbound', { displayName: 'Unbound', allowedScopes: ['iam/organization'] })).statusCode).toBe(400);
    const app = await admin.call('PUT', '/api/downstream/InteractiveApplication/x-app', { displayName: 'App', allowedScopes: ['openid', 'iam/organization'], redirectUris: ['https://app.example.com/cb'] });
    expect(app.statusCode).toBe(400);
    // organizationId belongs to machine clients only (strict body).
    const bound = await admin.call('PUT', '/api/downstream/InteractiveApplication/x-app', { displayName: 'App', allowedScopes: ['openid'], redirectUris: ['https://app.example.com/cb'], organizationId: orgX });
    expect(bound.statusCode).toBe(400);
    expect((await admin.call('GET', '/api/downstream/MachineClient/x-wide')).statusCode).toBe(404);
  });

  it('an unknown or another tenant’s organization is 404; the binding cannot change (409) but the same PUT is fine', async () => {
    const foreignOrg = (await otherTenant.call('POST', '/api/organizations', { displayName: 'Elsewhere' })).json().id as string;
    for (const organizationId of [foreignOrg, '00000000-0000-4000-8000-000000000000']) {
      const res = await admin.call('PUT', '/api/downstream/MachineClient/x-lost', { displayName: 'Lost', allowedScopes: ['iam/organization'], organizationId });
      expect(res.statusCode, res.body).toBe(404);
    }
    const body = { displayName: 'X sync', allowedScopes: ['iam/organization', 'damapi/'], organizationId: orgX };
    expect((await admin.call('PUT', '/api/downstream/MachineClient/x-sync', body)).statusCode).toBe(200);
    expect((await admin.call('PUT', '/api/downstream/MachineClient/x-sync', { ...body, organizationId: orgY })).statusCode).toBe(409);
    const { organizationId: _drop, ...unbound } = body;
    expect((await admin.call('PUT', '/api/downstream/MachineClient/x-sync', { ...unbound, allowedScopes: ['damapi/'] })).statusCode).toBe(409);
    // A tenant-wide client cannot be bound afterwards either.
    expect((await admin.call('PUT', '/api/downstream/MachineClient/plain', { displayName: 'Plain', allowedScopes: ['damapi/'] })).statusCode).toBe(201);
    expect((await admin.call('PUT', '/api/downstream/MachineClient/plain', { displayName: 'Plain', allowedScopes: ['damapi/'], organizationId: orgX })).statusCode).toBe(409);
    expect((await admin.call('GET', '/api/downstream/MachineClient/x-sync')).json().organizationId).toBe(orgX);
  });
});

describe('its tokens', () => {
  it('carry org_id (and no org_roles); introspection returns org_id', async () => {
    const res = await tokenFor(admin.tenant, 'x-sync', SECRET);
    expect(res.json().scope).toBe('iam/organization damapi/');
    const claims = decodeJwt(res.json().access_token);
    expect(claims).toMatchObject({ sub: 'x-sync', client_id: 'x-sync', org_id: orgX, gty: 'client_credentials', aud: ['iam', 'damapi'] });
    expect(claims.org_roles).toBeUndefined();
    const introspected = await env.app.inject({
      method: 'POST',
      url: '/oauth2/introspect',
      headers: { host: admin.tenant.host, authorization: basic(admin.tenant.clientId, admin.tenant.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: res.json().access_token }).toString(),
    });
    expect(introspected.json()).toMatchObject({ active: true, client_id: 'x-sync', org_id: orgX });
    // A tenant-wide token carries no org_id, and introspection adds none.
    const tenantWide = decodeJwt(admin.token);
    expect(tenantWide.org_id).toBeUndefined();
  });

  it('are refused tenant-wide scopes at the token endpoint', async () => {
    for (const scope of ['iam/', 'scim.write']) {
      const res = await tokenFor(admin.tenant, 'x-sync', SECRET, scope);
      expect(res.statusCode, scope).toBe(400);
      expect(res.json().error).toBe('invalid_scope');
    }
  });

  it('are not valid in another tenant (401), nor at the tenant-wide SCIM endpoint', async () => {
    expect((await as(clientToken, 'GET', `/api/organizations/${orgX}`, undefined, otherTenant.tenant.host)).statusCode).toBe(401);
    const scim = await as(clientToken, 'GET', '/scim/v2/Users');
    expect(scim.statusCode).toBe(401);
  });

  it('reach no management route outside organizations (403)', async () => {
    for (const url of ['/api/users', '/api/roles', '/api/downstream', '/api/audit', '/api/upstream', '/api/keys']) {
      const res = await as(clientToken, 'GET', url);
      expect(res.statusCode, url).toBe(403);
    }
    expect((await as(clientToken, 'PUT', '/api/downstream/MachineClient/escalate', { displayName: 'E', allowedScopes: ['iam/'] })).statusCode).toBe(403);
  });

  it('a machine token with org_id is confined even if it somehow carries iam/', async () => {
    const entry = await env.app.services.directory.client(admin.tenant.tenant.id, 'x-sync');
    const { token } = await env.app.services.tokens.issue(admin.tenant.tenant, {
      grantType: 'client_credentials', sub: 'x-sync', clientId: 'x-sync', clientInstance: entry!.client.instanceId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 300, extra: { org_id: orgX },
    });
    const res = await as(token, 'GET', '/api/users');
    expect(res.statusCode).toBe(403);
    expect((await as(token, 'GET', `/api/organizations/${orgX}`)).statusCode).toBe(403);
  });
});

describe('cross-organization matrix: every organizations route', () => {
  type Row = { method: string; path: string; own: () => { url: string; body?: unknown }; foreign: () => { url: string; body?: unknown }; ownStatus: number; foreignStatus: number };
  const rows: Row[] = [
    { method: 'POST', path: '/api/organizations', own: () => ({ url: '/api/organizations', body: { displayName: 'Mine' } }), foreign: () => ({ url: '/api/organizations', body: { displayName: 'Mine' } }), ownStatus: 403, foreignStatus: 403 },
    { method: 'GET', path: '/api/organizations', own: () => ({ url: '/api/organizations' }), foreign: () => ({ url: '/api/organizations?limit=1' }), ownStatus: 200, foreignStatus: 200 },
    { method: 'GET', path: '/api/organizations/external/:externalId', own: () => ({ url: '/api/organizations/external/ext-x' }), foreign: () => ({ url: '/api/organizations/external/ext-y' }), ownStatus: 200, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId', own: () => ({ url: `/api/organizations/${orgX}` }), foreign: () => ({ url: `/api/organizations/${orgY}` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'PATCH', path: '/api/organizations/:organizationId', own: () => ({ url: `/api/organizations/${orgX}`, body: { displayName: 'Renamed' } }), foreign: () => ({ url: `/api/organizations/${orgY}`, body: { displayName: 'Renamed' } }), ownStatus: 403, foreignStatus: 403 },
    { method: 'DELETE', path: '/api/organizations/:organizationId', own: () => ({ url: `/api/organizations/${orgX}` }), foreign: () => ({ url: `/api/organizations/${orgY}` }), ownStatus: 403, foreignStatus: 403 },
    { method: 'GET', path: '/api/organizations/:organizationId/members', own: () => ({ url: `/api/organizations/${orgX}/members` }), foreign: () => ({ url: `/api/organizations/${orgY}/members` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/members/:userId', own: () => ({ url: `/api/organizations/${orgX}/members/${userX}` }), foreign: () => ({ url: `/api/organizations/${orgY}/members/${userY}` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'PUT', path: '/api/organizations/:organizationId/members/:userId', own: () => ({ url: `/api/organizations/${orgX}/members/${userX}`, body: { roles: ['member', 'editor'] } }), foreign: () => ({ url: `/api/organizations/${orgY}/members/${userY}`, body: { roles: ['owner'] } }), ownStatus: 200, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/domains', own: () => ({ url: `/api/organizations/${orgX}/domains`, body: { domain: 'x-two.example' } }), foreign: () => ({ url: `/api/organizations/${orgY}/domains`, body: { domain: 'y-two.example' } }), ownStatus: 201, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/domains', own: () => ({ url: `/api/organizations/${orgX}/domains` }), foreign: () => ({ url: `/api/organizations/${orgY}/domains` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/domains/:domainId', own: () => ({ url: `/api/organizations/${orgX}/domains/${domainX}` }), foreign: () => ({ url: `/api/organizations/${orgY}/domains/${domainY}` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/domains/:domainId/verify', own: () => ({ url: `/api/organizations/${orgX}/domains/${domainX}/verify` }), foreign: () => ({ url: `/api/organizations/${orgY}/domains/${domainY}/verify` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/domains/:domainId/mark-verified', own: () => ({ url: `/api/organizations/${orgX}/domains/${domainX}/mark-verified` }), foreign: () => ({ url: `/api/organizations/${orgY}/domains/${domainY}/mark-verified` }), ownStatus: 403, foreignStatus: 403 },
    { method: 'POST', path: '/api/organizations/:organizationId/directories', own: () => ({ url: `/api/organizations/${orgX}/directories`, body: { displayName: 'X Okta', provider: 'okta' } }), foreign: () => ({ url: `/api/organizations/${orgY}/directories`, body: { displayName: 'Planted' } }), ownStatus: 201, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/directories', own: () => ({ url: `/api/organizations/${orgX}/directories` }), foreign: () => ({ url: `/api/organizations/${orgY}/directories` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/directories/primary', own: () => ({ url: `/api/organizations/${orgX}/directories/primary` }), foreign: () => ({ url: `/api/organizations/${orgY}/directories/primary` }), ownStatus: 200, foreignStatus: 404 },
    // Invitations: the organization's members permissions, confined like the members routes.
    { method: 'POST', path: '/api/organizations/:organizationId/invitations', own: () => ({ url: `/api/organizations/${orgX}/invitations`, body: { email: 'new-x@x-corp.example', send: false } }), foreign: () => ({ url: `/api/organizations/${orgY}/invitations`, body: { email: 'new-y@y-corp.example', send: false } }), ownStatus: 201, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/invitations', own: () => ({ url: `/api/organizations/${orgX}/invitations` }), foreign: () => ({ url: `/api/organizations/${orgY}/invitations` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'GET', path: '/api/organizations/:organizationId/invitations/:invitationId', own: () => ({ url: `/api/organizations/${orgX}/invitations/${invitationX}` }), foreign: () => ({ url: `/api/organizations/${orgY}/invitations/${invitationY}` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/invitations/:invitationId/resend', own: () => ({ url: `/api/organizations/${orgX}/invitations/${invitationX}/resend` }), foreign: () => ({ url: `/api/organizations/${orgY}/invitations/${invitationY}/resend` }), ownStatus: 200, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/invitations/:invitationId/revoke', own: () => ({ url: `/api/organizations/${orgX}/invitations/${invitationX}/revoke` }), foreign: () => ({ url: `/api/organizations/${orgY}/invitations/${invitationY}/revoke` }), ownStatus: 200, foreignStatus: 404 },
    // Removals last: the own row really removes; the foreign one must leave Y untouched.
    { method: 'DELETE', path: '/api/organizations/:organizationId/domains/:domainId', own: () => ({ url: `/api/organizations/${orgX}/domains/${domainX}` }), foreign: () => ({ url: `/api/organizations/${orgY}/domains/${domainY}` }), ownStatus: 204, foreignStatus: 404 },
    // Portal links: an organization-scoped client may hand its own organization's IT admin a link (ADR 0009).
    { method: 'POST', path: '/api/organizations/:organizationId/portal-links', own: () => ({ url: `/api/organizations/${orgX}/portal-links`, body: { intent: 'sso' } }), foreign: () => ({ url: `/api/organizations/${orgY}/portal-links`, body: { intent: 'sso' } }), ownStatus: 201, foreignStatus: 404 },
    // Connections need connections:* permissions, which an organization-scoped client does not hold.
    { method: 'GET', path: '/api/organizations/:organizationId/connections', own: () => ({ url: `/api/organizations/${orgX}/connections` }), foreign: () => ({ url: `/api/organizations/${orgY}/connections` }), ownStatus: 403, foreignStatus: 404 },
    { method: 'POST', path: '/api/organizations/:organizationId/connections', own: () => ({ url: `/api/organizations/${orgX}/connections`, body: { type: 'oidc', displayName: 'X', settings: { issuer: 'https://x.example', clientId: 'x' } } }), foreign: () => ({ url: `/api/organizations/${orgY}/connections`, body: { type: 'oidc', displayName: 'Y', settings: { issuer: 'https://y.example', clientId: 'y' } } }), ownStatus: 403, foreignStatus: 404 },
    { method: 'DELETE', path: '/api/organizations/:organizationId/members/:userId', own: () => ({ url: `/api/organizations/${orgX}/members/${userX}` }), foreign: () => ({ url: `/api/organizations/${orgY}/members/${userY}` }), ownStatus: 204, foreignStatus: 404 },
  ];

  it('covers every route under /api/organizations', () => {
    const registered = [...env.app.services.routePermissions.keys()].filter((k) => / \/api\/organizations/.test(k) && !k.startsWith('HEAD '));
    expect(registered.toSorted()).toEqual(rows.map((r) => `${r.method} ${r.path}`).toSorted());
  });

  it.each(rows.map((r) => [`${r.method} ${r.path}`, r] as const))('%s: own organization as expected, the other one %s', async (_name, row) => {
    const foreign = row.foreign();
    const f = await as(clientToken, row.method, foreign.url, foreign.body);
    expect(f.statusCode, f.body).toBe(row.foreignStatus);
    if (row.foreignStatus === 404) expect(f.json().detail).toMatch(/^No organization with this (id|externalId) in this tenant\.$/);
    const own = row.own();
    const o = await as(clientToken, row.method, own.url, own.body);
    expect(o.statusCode, o.body).toBe(row.ownStatus);
    // The same request by the tenant's administrator reaches Y: the 404 is the confinement, not a missing resource.
    if (row.foreignStatus !== row.ownStatus && row.method === 'GET') expect((await admin.call('GET', foreign.url)).statusCode).toBe(200);
  });

  it('the list holds only its own organization, and Y is untouched by all of the above', async () => {
    const list = await as(clientToken, 'GET', '/api/organizations');
    expect(list.json()).toEqual({ items: [expect.objectContaining({ id: orgX })], nextCursor: null });
    expect((await as(clientToken, 'GET', '/api/organizations?cursor=anything')).json().items).toEqual([]);
    expect((await admin.call('GET', `/api/organizations/${orgY}`)).json().displayName).toBe('Y Corp');
    expect((await admin.call('GET', `/api/organizations/${orgY}/members/${userY}`)).json().roles).toEqual(['member']);
    expect((await admin.call('GET', `/api/organizations/${orgY}/domains/${domainY}`)).statusCode).toBe(200);
    expect((await admin.call('GET', `/api/organizations/${orgY}/domains`)).json().items.map((d: { domain: string }) => d.domain)).toEqual(['y-corp.example']);
  });

  it('its changes are audited as the client', async () => {
    const audit = (await admin.call('GET', `/api/audit?targetType=organization&targetId=${orgX}&actor=x-sync`)).json().items as { action: string; actor: { type: string; id: string } }[];
    expect(audit.map((e) => e.action)).toEqual(['organization.membership.remove', 'portal.link.create', 'organization.domain.delete', 'organization.domain.add', 'organization.membership.update']);
    expect(audit[0]!.actor).toEqual({ type: 'client', id: 'x-sync' });
  });
});

describe('deleting the organization', () => {
  it('deletes its clients in the same transaction: tokens stop at once, audited', async () => {
    const orgZ = await org('Z Corp', 'ext-z');
    expect((await admin.call('PUT', '/api/downstream/MachineClient/z-sync', { displayName: 'Z', allowedScopes: ['iam/organization'], organizationId: orgZ, clientSecret: SECRET })).statusCode).toBe(201);
    const token = (await tokenFor(admin.tenant, 'z-sync', SECRET)).json().access_token as string;
    expect((await as(token, 'GET', `/api/organizations/${orgZ}`)).statusCode).toBe(200);
    expect((await admin.call('DELETE', `/api/organizations/${orgZ}`)).statusCode).toBe(204);
    expect((await admin.call('GET', '/api/downstream/MachineClient/z-sync')).statusCode).toBe(404);
    expect((await as(token, 'GET', `/api/organizations/${orgZ}`)).statusCode).toBe(401);
    expect((await tokenFor(admin.tenant, 'z-sync', SECRET)).statusCode).toBe(401);
    const audit = (await admin.call('GET', '/api/audit?targetType=client&targetId=z-sync')).json().items;
    expect(audit[0]).toMatchObject({ action: 'client.delete', after: { reason: 'organization deleted', organizationId: orgZ } });
    // The other organization's client is not affected.
    expect((await as(clientToken, 'GET', `/api/organizations/${orgX}`)).statusCode).toBe(200);
  });
});
