/**
 * Upstream providers bound to an organization (issue #11 item 4), over `/api/upstream`: binding and reading back,
 * what an unknown or another tenant's organization answers (400 on `organizationId`, never a 404 or a hint), the
 * organization roles' validation, who may bind (administrators; organization-scoped clients never), and deletion
 * with the organization (audited; tenant-wide providers stay).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken, testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, organizationClientToken, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;
let orgA: string;
let orgB: string;
let foreignOrg: string;

const azure = (extra: Record<string, unknown> = {}) => ({
  displayName: 'Acme Entra ID',
  clientId: '11111111-2222-3333-4444-555555555555',
  clientSecret: 'bound-Secret~Value.0001',
  tenantId: '66666666-7777-8888-9999-000000000000',
  trustAllUsers: true,
  defaultUserRoles: [],
  ...extra,
});
const org = async (a: Api, displayName: string) => {
  const res = await a.call('POST', '/api/organizations', { displayName });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
};

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  orgA = await org(api, 'Acme');
  orgB = await org(api, 'Beta');
  foreignOrg = await org(other, 'Another tenant’s organization');
});
afterAll(() => env.close());

describe('binding a provider to an organization', () => {
  it('PUT binds it; GET and the list read it back; the change is in the audit before/after', async () => {
    const created = await api.call('PUT', '/api/upstream/AzureAd/acme', azure({ organizationId: orgA, defaultOrganizationRoles: ['member', 'viewer', 'member'] }));
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ type: 'AzureAd', id: 'acme', organizationId: orgA, defaultOrganizationRoles: ['member', 'viewer'] });
    expect((await api.call('GET', '/api/upstream/AzureAd/acme')).json()).toEqual(created.json());
    const listed = (await api.call('GET', '/api/upstream')).json().items as { id: string; organizationId: string | null }[];
    expect(listed.find((p) => p.id === 'acme')).toMatchObject({ organizationId: orgA, defaultOrganizationRoles: ['member', 'viewer'] });

    const moved = await api.call('PUT', '/api/upstream/AzureAd/acme', azure({ clientSecret: undefined, organizationId: orgB }));
    expect(moved.statusCode, moved.body).toBe(200);
    // Omitted roles are kept when the binding moves.
    expect(moved.json()).toMatchObject({ organizationId: orgB, defaultOrganizationRoles: ['member', 'viewer'] });
    const [update] = (await api.call('GET', '/api/audit?action=upstream.update&targetId=AzureAd/acme')).json().items;
    expect(update.before).toMatchObject({ organizationId: orgA });
    expect(update.after).toMatchObject({ organizationId: orgB });
    const [create] = (await api.call('GET', '/api/audit?action=upstream.create&targetId=AzureAd/acme')).json().items;
    expect(create.after).toMatchObject({ organizationId: orgA, defaultOrganizationRoles: ['member', 'viewer'] });
  });

  it('omitted: unchanged; null: tenant-wide again, and the organization roles go with the binding', async () => {
    await api.call('PUT', '/api/upstream/Google/keep', { displayName: 'G', clientId: 'g', clientSecret: 'google-Secret-0001', organizationId: orgA, defaultOrganizationRoles: ['member'] });
    const kept = await api.call('PUT', '/api/upstream/Google/keep', { displayName: 'G renamed', clientId: 'g' });
    expect(kept.statusCode, kept.body).toBe(200);
    expect(kept.json()).toMatchObject({ displayName: 'G renamed', organizationId: orgA, defaultOrganizationRoles: ['member'] });
    const unbound = await api.call('PUT', '/api/upstream/Google/keep', { displayName: 'G', clientId: 'g', organizationId: null });
    expect(unbound.statusCode, unbound.body).toBe(200);
    expect(unbound.json()).toMatchObject({ organizationId: null, defaultOrganizationRoles: [] });
  });

  it('a new provider without organizationId is tenant-wide, as before', async () => {
    const res = await api.call('PUT', '/api/upstream/Auth0/wide', { displayName: 'Auth0', domain: 'wide.eu.auth0.com', clientId: 'c', clientSecret: 'auth0-Secret-0001' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ organizationId: null, defaultOrganizationRoles: [] });
  });
});

describe('what organizationId may name', () => {
  it('an unknown organization, or another tenant’s, is a 400 on organizationId with the same answer; nothing is written', async () => {
    const unknown = await api.call('PUT', '/api/upstream/AzureAd/nowhere', azure({ organizationId: '00000000-0000-4000-8000-000000000000' }));
    const foreign = await api.call('PUT', '/api/upstream/AzureAd/nowhere', azure({ organizationId: foreignOrg }));
    for (const res of [unknown, foreign]) {
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ field: 'organizationId' });
    }
    // Another tenant's organization is indistinguishable from one that does not exist.
    expect(foreign.json().detail).toBe(unknown.json().detail);
    expect(foreign.body).not.toContain('Another tenant');
    expect((await api.call('GET', '/api/upstream/AzureAd/nowhere')).statusCode).toBe(404);
    // An existing provider is not rebound either.
    await api.call('PUT', '/api/upstream/AzureAd/stays', azure({ organizationId: orgA }));
    expect((await api.call('PUT', '/api/upstream/AzureAd/stays', azure({ clientSecret: undefined, organizationId: foreignOrg }))).statusCode).toBe(400);
    expect((await api.call('GET', '/api/upstream/AzureAd/stays')).json().organizationId).toBe(orgA);
  });

  it('not a uuid: 400 naming the path', async () => {
    for (const organizationId of ['acme', 42, '']) {
      const res = await api.call('PUT', '/api/upstream/AzureAd/bad', azure({ organizationId }));
      expect(res.statusCode, String(organizationId)).toBe(400);
      expect(res.json().errors[0].path).toBe('/organizationId');
    }
  });

  it('defaultOrganizationRoles: organization role names (as memberships and connections), at most 20, and only on a bound provider', async () => {
    for (const roles of [['Admin'], ['has space'], ['-lead'], ['x'.repeat(65)], 'member', Array.from({ length: 21 }, (_, i) => `r${i}`)]) {
      const res = await api.call('PUT', '/api/upstream/AzureAd/bad', azure({ organizationId: orgA, defaultOrganizationRoles: roles }));
      expect(res.statusCode, JSON.stringify(roles)).toBe(400);
      expect(res.json().errors[0].path).toMatch(/^\/defaultOrganizationRoles/);
    }
    const wide = await api.call('PUT', '/api/upstream/AzureAd/bad', azure({ defaultOrganizationRoles: ['member'] }));
    expect(wide.statusCode).toBe(400);
    expect(wide.json()).toMatchObject({ field: 'defaultOrganizationRoles' });
    const ok = await api.call('PUT', '/api/upstream/AzureAd/bad', azure({ organizationId: orgA, defaultOrganizationRoles: ['org:admin', 'billing.viewer', 'read_only'] }));
    expect(ok.statusCode, ok.body).toBe(201);
  });
});

describe('who may bind', () => {
  it('upstream:write without admin cannot bind, move or unbind a provider, nor change its organization roles; renaming is still allowed', async () => {
    const role = 'upstream-operator';
    expect((await api.call('POST', '/api/roles', { name: role, permissions: ['upstream:read', 'upstream:write'] })).statusCode).toBe(201);
    const user = (await api.call('POST', '/api/users', { email: email('operator') })).json();
    expect((await api.call('POST', `/api/users/${user.id}/roles`, { roles: [role] })).statusCode).toBe(200);
    const { token } = await mintToken(env, api.tenant.tenant, { sub: user.id, clientId: api.tenant.clientId, scopes: ['iam/'], audiences: ['iam'], ttlSeconds: 600 });
    const as = (body: unknown) => api.call('PUT', '/api/upstream/AzureAd/operated', body, { authorization: `Bearer ${token}` });
    expect((await api.call('PUT', '/api/upstream/AzureAd/operated', azure())).statusCode).toBe(201);
    const bind = await as(azure({ clientSecret: undefined, organizationId: orgA }));
    expect(bind.statusCode, bind.body).toBe(403);
    expect(bind.json().changed).toEqual(['organizationId']);
    expect((await api.call('PUT', '/api/upstream/AzureAd/operated', azure({ clientSecret: undefined, organizationId: orgA }))).statusCode).toBe(200);
    for (const change of [{ organizationId: orgB }, { organizationId: null }, { defaultOrganizationRoles: ['owner'] }]) {
      expect((await as(azure({ clientSecret: undefined, ...change }))).statusCode, JSON.stringify(change)).toBe(403);
    }
    const renamed = await as(azure({ clientSecret: undefined, displayName: 'Renamed by the operator' }));
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ displayName: 'Renamed by the operator', organizationId: orgA });
  });

  it('an organization-scoped machine client (iam/organization) gets 403 on every upstream route, its own organization included', async () => {
    const headers = { authorization: `Bearer ${await organizationClientToken(env, api, 'acme-sync', orgA)}` };
    for (const [method, url, body] of [
      ['GET', '/api/upstream', undefined],
      ['GET', '/api/upstream/AzureAd/acme', undefined],
      ['PUT', '/api/upstream/AzureAd/org-own', azure({ organizationId: orgA })],
      ['PUT', '/api/upstream/AzureAd/acme', azure({ clientSecret: undefined, organizationId: orgA })],
      ['DELETE', '/api/upstream/AzureAd/acme', undefined],
    ] as const) {
      expect((await api.call(method, url, body, headers)).statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await api.call('GET', '/api/upstream/AzureAd/org-own')).statusCode).toBe(404);
  });
});

describe('deleting the organization', () => {
  it('deletes the providers bound to it (audited, with their users’ links) and leaves tenant-wide and other organizations’ providers', async () => {
    const doomed = await org(api, 'Doomed');
    expect((await api.call('PUT', '/api/upstream/AzureAd/doomed-1', azure({ organizationId: doomed, defaultOrganizationRoles: ['member'] }))).statusCode).toBe(201);
    expect((await api.call('PUT', '/api/upstream/Google/doomed-2', { displayName: 'G', clientId: 'g', clientSecret: 'google-Secret-0002', organizationId: doomed })).statusCode).toBe(201);
    expect((await api.call('PUT', '/api/upstream/AzureAd/tenant-wide', azure())).statusCode).toBe(201);
    expect((await api.call('PUT', '/api/upstream/AzureAd/survivor', azure({ organizationId: orgA }))).statusCode).toBe(201);

    const deleted = await api.call('DELETE', `/api/organizations/${doomed}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect((await api.call('GET', '/api/upstream/AzureAd/doomed-1')).statusCode).toBe(404);
    expect((await api.call('GET', '/api/upstream/Google/doomed-2')).statusCode).toBe(404);
    expect((await api.call('GET', '/api/upstream/AzureAd/tenant-wide')).json()).toMatchObject({ organizationId: null });
    expect((await api.call('GET', '/api/upstream/AzureAd/survivor')).json()).toMatchObject({ organizationId: orgA });

    for (const targetId of ['AzureAd/doomed-1', 'Google/doomed-2']) {
      const [entry] = (await api.call('GET', `/api/audit?action=upstream.delete&targetId=${targetId}`)).json().items;
      expect(entry, targetId).toMatchObject({ actor: { type: 'client', id: api.tenant.clientId }, before: { organizationId: doomed, unlinkedIdentities: 0 }, after: { reason: 'organization deleted', organizationId: doomed } });
    }
    // The organization's own audit entry follows the providers' (same transaction).
    expect((await api.call('GET', `/api/audit?action=organization.delete&targetId=${doomed}`)).json().items).toHaveLength(1);
  });
});
