/**
 * A directory's records reach the feed as `organization.directory.*` (issue #13 item 1), in the transaction of the
 * SCIM change, with the directory's organization; never as the tenant's `user.*` / `group.*`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { directoryScimClient, scimClient, patch, user, GROUP } from '../scim/support.ts';

let env: TestEnv;
let admin: Api;

beforeAll(async () => {
  env = await testEnv();
  admin = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

async function eventsOf(organizationId: string) {
  const res = await admin.call('GET', `/api/events?organization_id=${organizationId}&limit=500`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items as { type: string; directoryId: string | null; organizationId: string; data: Record<string, any>; previousAttributes: Record<string, unknown> | null }[];
}

describe('organization.directory.* events', () => {
  it('user and group lifecycle through the directory SCIM endpoint, in order, with Directory API shapes', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const u = await c.call('POST', '/Users', user('dora@feed.example'));
    expect(u.statusCode, u.body).toBe(201);
    const uid = u.json().id;
    expect((await c.call('PATCH', `/Users/${uid}`, patch({ op: 'replace', path: 'active', value: false }))).statusCode).toBe(200);
    const g = await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Feeders', members: [{ value: uid }] });
    expect(g.statusCode, g.body).toBe(201);
    const gid = g.json().id;
    // add then remove in one PATCH is no net change: no membership event for it
    expect((await c.call('PATCH', `/Groups/${gid}`, patch({ op: 'remove', path: `members[value eq "${uid}"]` }))).statusCode).toBeLessThan(300);
    expect((await c.call('DELETE', `/Groups/${gid}`)).statusCode).toBe(204);
    expect((await c.call('DELETE', `/Users/${uid}`)).statusCode).toBe(204);

    const events = (await eventsOf(c.organizationId)).filter((e) => e.directoryId === c.directoryId);
    expect(events.map((e) => e.type)).toEqual([
      'organization.directory.user_created',
      'organization.directory.user_updated',
      'organization.directory.group_created',
      'organization.directory.group_user_added',
      'organization.directory.group_updated',
      'organization.directory.group_user_removed',
      'organization.directory.group_deleted',
      'organization.directory.user_deleted',
    ]);
    for (const e of events) expect(e.organizationId).toBe(c.organizationId);
    expect(events[0]!.data).toMatchObject({ id: uid, user_name: 'dora@feed.example', directory_id: c.directoryId, active: true });
    expect(events[0]!.data.raw_attributes).toBeUndefined();
    expect(events[1]!.data).toMatchObject({ id: uid, active: false });
    expect(events[1]!.previousAttributes).toMatchObject({ active: true });
    expect(events[3]!.data).toMatchObject({ group: { id: gid, display_name: 'Feeders' }, user: { id: uid, user_name: 'dora@feed.example' } });
    expect(events[4]!.data).toMatchObject({ id: gid, member_count: 0 });

    // The tenant's namespace carries none of the directory's records.
    const all = (await admin.call('GET', '/api/events?types=user.*,group.*&limit=500')).json().items as { data: { id?: string; groupId?: string } }[];
    expect(all.filter((e) => e.data.id === uid || e.data.id === gid || e.data.groupId === gid)).toEqual([]);
  });

  it('the tenant-wide SCIM endpoint writes group.* events, one member_added per member, none for the directory', async () => {
    const c = await directoryScimClient(env, admin.tenant);
    const created = await admin.call('POST', '/api/users', { email: 'tina@tenant.example' });
    expect(created.statusCode, created.body).toBe(201);
    const tenantUser = created.json().id;
    const tenantScim = await scimClient(env, admin.tenant);
    const g = await tenantScim.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Tenant group', members: [{ value: tenantUser }] });
    expect(g.statusCode, g.body).toBe(201);
    const items = (await admin.call('GET', '/api/events?types=group.*&limit=500')).json().items as { type: string; data: Record<string, unknown> }[];
    const mine = items.filter((e) => e.data.id === g.json().id || e.data.groupId === g.json().id);
    expect(mine.map((e) => e.type), JSON.stringify(items.slice(-5))).toEqual(['group.created', 'group.member_added']);
    expect(mine[1]!.data).toEqual({ groupId: g.json().id, memberId: tenantUser, memberType: 'user' });
    expect((await eventsOf(c.organizationId)).filter((e) => e.type.startsWith('organization.directory.'))).toEqual([]);
  });
});
