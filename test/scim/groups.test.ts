/** /scim/v2/Groups: RFC 7643 §4.2, RFC 7644 §3.3–§3.6 and §3.5.2 member PATCH; nesting; cascades; ETags. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { bootstrapToken, testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents, groupMembers } from '../../src/db/schema/index.ts';
import { ERROR, GROUP, patch, scimClient, user, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;
const u: string[] = [];

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
  for (let i = 0; i < 6; i++) u.push((await c.call('POST', '/Users', user(`member${i}@example.com`, { displayName: `Member ${i}` }))).json().id);
});
afterAll(() => env.close());

const group = (displayName: string, members?: string[]) => ({ schemas: [GROUP], displayName, ...(members ? { members: members.map((value) => ({ value })) } : {}) });
const memberIds = async (id: string) => ((await c.call('GET', `/Groups/${id}`)).json().members ?? []).map((m: { value: string }) => m.value).sort();

describe('RFC 7644 §3.3 create and §3.4.1 get', () => {
  it('201 with members (display read from the user), Location and ETag; excludedAttributes=members', async () => {
    const res = await c.call('POST', '/Groups', group('Engineering', [u[0]!, u[1]!]));
    expect(res.statusCode).toBe(201);
    const g = res.json();
    expect(res.headers.location).toBe(`http://${c.tenant.host}/scim/v2/Groups/${g.id}`);
    expect(g).toMatchObject({ schemas: [GROUP], displayName: 'Engineering', meta: { resourceType: 'Group', version: 'W/"1"' } });
    expect(g.members).toEqual(
      expect.arrayContaining([{ value: u[0], display: 'Member 0', type: 'User', $ref: `http://${c.tenant.host}/scim/v2/Users/${u[0]}` }]),
    );
    const lean = (await c.call('GET', `/Groups/${g.id}?excludedAttributes=members`)).json();
    expect(lean.members).toBeUndefined();
    expect(lean.displayName).toBe('Engineering');
    const byUser = (await c.call('GET', `/Users/${u[0]}`)).json();
    expect(byUser.groups).toEqual([{ value: g.id, display: 'Engineering', type: 'direct', $ref: `http://${c.tenant.host}/scim/v2/Groups/${g.id}` }]);
  });

  it('STACKIT seed body without schemas; displayName unique regardless of case (409 uniqueness); unknown members 400', async () => {
    const res = await c.call('POST', '/Groups', { externalId: 'externalID', displayName: 'Group name', members: [{ value: u[2] }] });
    expect(res.statusCode).toBe(201);
    expect(res.json().externalId).toBe('externalID');
    const dup = await c.call('POST', '/Groups', group('GROUP NAME'));
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
    const bad = await c.call('POST', '/Groups', group('Ghosts', ['userID']));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().scimType).toBe('invalidValue');
    expect((await c.call('POST', '/Groups', { schemas: [GROUP] })).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
  });

  it('filter by displayName with excludedAttributes=members (Entra ID), by members.value, sorting', async () => {
    const g = (await c.call('POST', '/Groups', group('Filter Me', [u[3]!]))).json();
    const res = (await c.call('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "filter me"')}`)).json();
    expect(res.totalResults).toBe(1);
    expect(res.Resources[0].members).toBeUndefined();
    const byMember = (await c.call('GET', `/Groups?filter=${encodeURIComponent(`members[value eq "${u[3]}"]`)}&attributes=displayName`)).json();
    expect(byMember.Resources).toEqual([{ schemas: [GROUP], id: g.id, displayName: 'Filter Me' }]);
    const entra = (await c.call('GET', `/Groups?filter=${encodeURIComponent(`id eq "${g.id}" and members eq "${u[3]}"`)}&excludedAttributes=members`)).json();
    expect(entra.totalResults).toBe(1);
    const sorted = (await c.call('GET', '/Groups?sortBy=displayName&sortOrder=descending&excludedAttributes=members')).json().Resources.map((x: { displayName: string }) => x.displayName);
    expect(sorted).toEqual([...sorted].sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase())));
  });
});

describe('RFC 7644 §3.5.2 member PATCH', () => {
  it('adds and removes many members in one request; remove by members[value eq "…"]; 204 with ETag; audited as deltas', async () => {
    const g = (await c.call('POST', '/Groups', group('Patchers'))).json();
    const add = await c.call('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: u.slice(0, 5).map((value) => ({ value })) }));
    expect(add.statusCode).toBe(204);
    expect(add.headers.etag).toBe('W/"2"');
    expect(await memberIds(g.id)).toEqual(u.slice(0, 5).sort());
    const res = await c.call(
      'PATCH',
      `/Groups/${g.id}`,
      patch({ op: 'remove', path: `members[value eq "${u[0]}"]` }, { op: 'Remove', path: 'members', value: [{ value: u[1] }, { value: u[2] }] }, { op: 'add', path: 'members', value: [{ value: u[5] }, { value: u[3] }] }),
    );
    expect(res.statusCode).toBe(204);
    expect(await memberIds(g.id)).toEqual([u[3], u[4], u[5]].sort());
    const audit = await forTenant(env.database.db, c.tenant.tenant.id).select(auditEvents, eq(auditEvents.targetId, g.id));
    const last = audit.at(-1)!;
    expect(last.action).toBe('group.update');
    expect(last.after).toMatchObject({ membersAdded: [u[5]], membersRemoved: expect.arrayContaining([u[0], u[1], u[2]]) });
  });

  it('replace members; remove all members; replace displayName; 200 when attributes are asked for', async () => {
    const g = (await c.call('POST', '/Groups', group('Replacers', [u[0]!]))).json();
    await c.call('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', path: 'members', value: [{ value: u[1] }, { value: u[2] }] }));
    expect(await memberIds(g.id)).toEqual([u[1], u[2]].sort());
    const renamed = await c.call('PATCH', `/Groups/${g.id}?excludedAttributes=members`, patch({ op: 'Replace', path: 'displayName', value: 'Renamed' }));
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ displayName: 'Renamed' });
    await c.call('PATCH', `/Groups/${g.id}`, patch({ op: 'remove', path: 'members' }));
    expect(await memberIds(g.id)).toEqual([]);
    // Okta: no-path replace repeating the group's own id.
    const okta = await c.call('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', value: { id: g.id, displayName: 'Okta name' } }));
    expect(okta.statusCode).toBe(204);
    expect((await c.call('GET', `/Groups/${g.id}`)).json().displayName).toBe('Okta name');
    const otherId = await c.call('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', value: { id: u[0], displayName: 'x' } }));
    expect(otherId.json()).toMatchObject({ status: '400', scimType: 'mutability' });
  });

  it('nested groups: a group can be a member; itself cannot; deleting a member removes its memberships', async () => {
    const inner = (await c.call('POST', '/Groups', group('Inner'))).json();
    const outer = (await c.call('POST', '/Groups', group('Outer', [inner.id, u[4]!]))).json();
    expect((await c.call('GET', `/Groups/${outer.id}`)).json().members).toEqual(expect.arrayContaining([expect.objectContaining({ value: inner.id, type: 'Group', display: 'Inner' })]));
    const self = await c.call('PATCH', `/Groups/${outer.id}`, patch({ op: 'add', path: 'members', value: [{ value: outer.id }] }));
    expect(self.json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('DELETE', `/Groups/${inner.id}`)).statusCode).toBe(204);
    const temp = (await c.call('POST', '/Users', user('temp-member@example.com'))).json().id;
    await c.call('PATCH', `/Groups/${outer.id}`, patch({ op: 'add', path: 'members', value: [{ value: temp }] }));
    // Deleted through the management API, not SCIM: the foreign key still removes the membership.
    const admin = await bootstrapToken(env.app, c.tenant);
    expect((await env.app.inject({ method: 'DELETE', url: `/api/users/${temp}`, headers: { host: c.tenant.host, authorization: `Bearer ${admin}` } })).statusCode).toBe(204);
    expect(await memberIds(outer.id)).toEqual([u[4]]);
    const rows = await forTenant(env.database.db, c.tenant.tenant.id).select(groupMembers, eq(groupMembers.groupId, outer.id));
    expect(rows).toHaveLength(1);
  });

  it('bad PATCH bodies are 400 with scimType', async () => {
    const g = (await c.call('POST', '/Groups', group('Bad patches'))).json();
    const cases: [unknown, string][] = [
      [{ Operations: [] }, 'invalidSyntax'],
      [{ schemas: ['urn:wrong'], Operations: [{ op: 'add', path: 'members', value: [] }] }, 'invalidSyntax'],
      [patch({ op: 'move', path: 'displayName' }), 'invalidSyntax'],
      [patch({ op: 'add', path: 'members[value eq', value: [] }), 'invalidPath'],
      [patch({ op: 'add', path: 'nonsense', value: 1 }), 'invalidPath'],
      [patch({ op: 'remove' }), 'noTarget'],
      [patch({ op: 'add', path: 'members', value: [{ value: 'not-a-member' }] }), 'invalidValue'],
      [patch({ op: 'replace', path: 'displayName', value: 42 }), 'invalidValue'],
      [patch({ op: 'add', path: 'members', value: [{ display: 'no value' }] }), 'invalidValue'],
    ];
    for (const [body, scimType] of cases) {
      const res = await c.call('PATCH', `/Groups/${g.id}`, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json(), JSON.stringify(body)).toMatchObject({ schemas: [ERROR], scimType });
    }
  });
});

describe('RFC 7644 §3.5.1 PUT, §3.6 DELETE, §3.14 ETags', () => {
  it('PUT replaces name and members (differences only); If-Match 412; If-None-Match 304; DELETE', async () => {
    const g = (await c.call('POST', '/Groups', group('Putters', [u[0]!, u[1]!]))).json();
    const put = await c.call('PUT', `/Groups/${g.id}`, group('Putters 2', [u[1]!, u[2]!]), { 'if-match': 'W/"1"' });
    expect(put.statusCode).toBe(200);
    expect(put.json().displayName).toBe('Putters 2');
    expect(await memberIds(g.id)).toEqual([u[1], u[2]].sort());
    expect((await c.call('PUT', `/Groups/${g.id}`, group('Putters 3'), { 'if-match': 'W/"1"' })).statusCode).toBe(412);
    expect((await c.call('GET', `/Groups/${g.id}`, undefined, { 'if-none-match': put.headers.etag as string })).statusCode).toBe(304);
    expect((await c.call('DELETE', `/Groups/${g.id}`, undefined, { 'if-match': 'W/"1"' })).statusCode).toBe(412);
    expect((await c.call('DELETE', `/Groups/${g.id}`)).statusCode).toBe(204);
    expect((await c.call('GET', `/Groups/${g.id}`)).statusCode).toBe(404);
    expect((await c.call('GET', '/Groups/not-a-uuid')).statusCode).toBe(404);
  });
});
