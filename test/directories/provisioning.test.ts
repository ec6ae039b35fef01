/**
 * Membership provisioning (issue #12 item 3): with `provisionMembers` on, a directory's users become members of its
 * organization (linked by an email in a verified domain, or created), get the organization roles their groups map
 * to, and lose the membership (signed out; deactivated only when no organization is left) when deprovisioned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { directoryScimClient, patch, user, GROUP } from '../scim/support.ts';

let env: TestEnv;
let admin: Api;

beforeAll(async () => {
  env = await testEnv();
  admin = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

/** An organization with a verified domain and a provisioning directory. */
async function provisioned(domain: string) {
  const c = await directoryScimClient(env, admin.tenant);
  const d = await admin.call('POST', `/api/organizations/${c.organizationId}/domains`, { domain });
  expect(d.statusCode, d.body).toBe(201);
  expect((await admin.call('POST', `/api/organizations/${c.organizationId}/domains/${d.json().id}/mark-verified`)).statusCode).toBe(200);
  expect((await admin.call('PATCH', `/api/directories/${c.directoryId}`, { provisionMembers: true })).statusCode).toBe(200);
  return c;
}

const member = async (organizationId: string, userId: string) => admin.call('GET', `/api/organizations/${organizationId}/members/${userId}`);
const linkedUser = async (directoryId: string, directoryUserId: string): Promise<string | null> =>
  (await admin.call('GET', `/api/directories/${directoryId}/users/${directoryUserId}`)).json().linked_user_id;

describe('provisionMembers', () => {
  it('creates a tenant user for a new email in a verified domain, and makes them a member', async () => {
    const c = await provisioned('alpha.example');
    const res = await c.call('POST', '/Users', user('ann@alpha.example', { name: { givenName: 'Ann', familyName: 'A' }, emails: [{ value: 'Ann@Alpha.example', type: 'work', primary: true }] }));
    expect(res.statusCode, res.body).toBe(201);
    const linked = await linkedUser(c.directoryId, res.json().id);
    expect(linked).toMatch(/^[0-9a-f-]{36}$/);
    expect(linked).not.toBe(res.json().id);
    const u = (await admin.call('GET', `/api/users/${linked}`)).json();
    expect(u).toMatchObject({ email: 'Ann@Alpha.example', active: true });
    expect((await member(c.organizationId, linked!)).json()).toMatchObject({ userId: linked, roles: [] });
  });

  it('links an existing tenant user by email (compared canonically) instead of creating one', async () => {
    const c = await provisioned('beta.example');
    const existing = (await admin.call('POST', '/api/users', { email: 'bob@beta.example' })).json().id;
    const res = await c.call('POST', '/Users', user('BOB@beta.example', { emails: [{ value: 'BOB@BETA.EXAMPLE', primary: true }] }));
    expect(await linkedUser(c.directoryId, res.json().id)).toBe(existing);
    expect((await member(c.organizationId, existing)).statusCode).toBe(200);
  });

  it('does not admit an email outside the verified domains (audited), nor a look-alike domain', async () => {
    const c = await provisioned('gamma.example');
    const outside = await c.call('POST', '/Users', user('eve@evil.example'));
    const lookalike = await c.call('POST', '/Users', user('eve@gаmma.example')); // Cyrillic а
    for (const r of [outside, lookalike]) {
      expect(r.statusCode, r.body).toBe(201);
      expect(await linkedUser(c.directoryId, r.json().id)).toBeNull();
    }
    const audit = (await admin.call('GET', `/api/audit?action=directory.member.skipped&targetId=${c.directoryId}`)).json().items;
    expect(audit.length).toBeGreaterThanOrEqual(1);
    expect((await admin.call('GET', `/api/organizations/${c.organizationId}/members`)).json().items).toEqual([]);
  });

  it('maps groups to organization roles and recomputes them when members or mappings change', async () => {
    const c = await provisioned('delta.example');
    const dan = (await c.call('POST', '/Users', user('dan@delta.example'))).json().id;
    const admins = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Admins' })).json().id;
    const put = await admin.call('PUT', `/api/directories/${c.directoryId}/role-mappings/${admins}`, { roles: ['org:admin', 'billing'] });
    expect(put.statusCode, put.body).toBe(200);
    const linked = (await linkedUser(c.directoryId, dan))!;
    expect((await member(c.organizationId, linked)).json().roles).toEqual([]);
    // Entra ID adds a member by PATCH: the roles follow in the same transaction.
    expect((await c.call('PATCH', `/Groups/${admins}`, patch({ op: 'Add', path: 'members', value: [{ value: dan }] }))).statusCode).toBe(204);
    expect((await member(c.organizationId, linked)).json().roles).toEqual(['billing', 'org:admin']);
    await admin.call('PUT', `/api/directories/${c.directoryId}/role-mappings/${admins}`, { roles: ['billing'] });
    expect((await member(c.organizationId, linked)).json().roles).toEqual(['billing']);
    expect((await admin.call('GET', `/api/directories/${c.directoryId}/role-mappings`)).json().items).toEqual([{ groupId: admins, groupDisplayName: 'Admins', roles: ['billing'] }]);
    expect((await c.call('PATCH', `/Groups/${admins}`, patch({ op: 'Remove', path: `members[value eq "${dan}"]` }))).statusCode).toBe(204);
    expect((await member(c.organizationId, linked)).json().roles).toEqual([]);
    // A mapping names a group of this directory only.
    const other = await directoryScimClient(env, admin.tenant);
    const foreignGroup = (await other.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Foreign' })).json().id;
    expect((await admin.call('PUT', `/api/directories/${c.directoryId}/role-mappings/${foreignGroup}`, { roles: ['x'] })).statusCode).toBe(404);
    expect((await admin.call('PUT', `/api/directories/${c.directoryId}/role-mappings/${admins}`, { roles: ['Not A Role!'] })).statusCode).toBe(400);
  });

  it('deprovisioning ends the membership and signs out; the user is deactivated only when no organization is left', async () => {
    const c = await provisioned('epsilon.example');
    const only = (await c.call('POST', '/Users', user('only@epsilon.example'))).json().id;
    const shared = (await c.call('POST', '/Users', user('shared@epsilon.example'))).json().id;
    const onlyUser = (await linkedUser(c.directoryId, only))!;
    const sharedUser = (await linkedUser(c.directoryId, shared))!;
    const elsewhere = (await admin.call('POST', '/api/organizations', { displayName: 'Elsewhere' })).json().id;
    expect((await admin.call('PUT', `/api/organizations/${elsewhere}/members/${sharedUser}`, { roles: [] })).statusCode).toBe(201);
    // Okta deactivates with active=false; Entra ID the same by PATCH.
    expect((await c.call('PATCH', `/Users/${only}`, patch({ op: 'replace', path: 'active', value: false }))).statusCode).toBe(200);
    expect((await member(c.organizationId, onlyUser)).statusCode).toBe(404);
    expect((await admin.call('GET', `/api/users/${onlyUser}`)).json().active).toBe(false);
    expect((await c.call('DELETE', `/Users/${shared}`)).statusCode).toBe(204);
    expect((await member(c.organizationId, sharedUser)).statusCode).toBe(404);
    expect((await admin.call('GET', `/api/users/${sharedUser}`)).json().active).toBe(true);
    expect((await member(elsewhere, sharedUser)).statusCode).toBe(200);
    const revoked = (await admin.call('GET', `/api/audit?action=user.sessions.revoke&targetId=${onlyUser}`)).json().items;
    expect(revoked.length).toBe(1);
    // Reactivation brings the same user back as a member.
    expect((await c.call('PATCH', `/Users/${only}`, patch({ op: 'replace', path: 'active', value: true }))).statusCode).toBe(200);
    expect((await member(c.organizationId, onlyUser)).statusCode).toBe(200);
    expect((await admin.call('GET', `/api/users/${onlyUser}`)).json().active).toBe(true);
  });

  it('deleting the directory deprovisions the members it gave; turning provisioning on links those already there', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const d = (await admin.call('POST', `/api/organizations/${c.organizationId}/domains`, { domain: 'zeta.example' })).json().id;
    await admin.call('POST', `/api/organizations/${c.organizationId}/domains/${d}/mark-verified`);
    const z = (await c.call('POST', '/Users', user('zed@zeta.example'))).json().id;
    expect(await linkedUser(c.directoryId, z)).toBeNull();
    expect((await admin.call('PATCH', `/api/directories/${c.directoryId}`, { provisionMembers: true })).statusCode).toBe(200);
    const linked = (await linkedUser(c.directoryId, z))!;
    expect((await member(c.organizationId, linked)).statusCode).toBe(200);
    expect((await admin.call('DELETE', `/api/directories/${c.directoryId}`)).statusCode).toBe(204);
    expect((await member(c.organizationId, linked)).statusCode).toBe(404);
    expect((await admin.call('GET', `/api/users/${linked}`)).json().active).toBe(false);
  });
});
