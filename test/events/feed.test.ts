/**
 * The transactional outbox (issue #13 item 1): each change writes its feed event in its own transaction, with the
 * resource after the change, `previousAttributes` on updates and the organization it belongs to; a change that rolls
 * back leaves no event; nothing secret reaches the feed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { endOfFeed, eventsAfter } from '../support/events.ts';
import { forTenant } from '../../src/platform/db.ts';
import { publish } from '../../src/events/in-transaction.ts';

let env: TestEnv;
let api: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const uid = () => Math.random().toString(36).slice(2, 10);
const types = (events: { type: string }[]) => events.map((e) => e.type);

describe('users', () => {
  it('user.created, user.updated with previousAttributes, user.deleted: data is the /api/users representation', async () => {
    const start = await endOfFeed(api);
    const created = await api.call('POST', '/api/users', { email: email('feed'), fullName: 'Ada Feed', password: 'correct horse battery' });
    expect(created.statusCode, created.body).toBe(201);
    const user = created.json();
    const patched = (await api.call('PATCH', `/api/users/${user.id}`, { fullName: 'Ada Lovelace' })).json();
    expect((await api.call('DELETE', `/api/users/${user.id}`)).statusCode).toBe(204);

    const events = await eventsAfter(api, start, 3);
    expect(types(events)).toEqual(['user.created', 'user.updated', 'user.deleted']);
    const [c, u, d] = events as [any, any, any];
    expect(c.data).toEqual(user);
    expect(u.data).toEqual(patched);
    expect(u.previousAttributes).toEqual({ fullName: 'Ada Feed', version: user.version, updatedAt: user.updatedAt });
    expect(d.data).toEqual(patched);
    expect(c.organizationId).toBeNull();
    // The password (and its hash) never reach the feed; only the fact that one is set.
    const body = JSON.stringify(events);
    expect(body).not.toContain('correct horse battery');
    expect(body).not.toContain('argon2');
    expect(c.data.passwordSet).toBe(true);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
  });

  it('role assignments are user.updated with the roles before; sign-out everywhere is session.revoked', async () => {
    const user = (await api.call('POST', '/api/users', { email: email('roles') })).json();
    const role = `reader-${uid()}`;
    expect((await api.call('POST', '/api/roles', { name: role, permissions: ['users:read'] })).statusCode).toBe(201);
    const start = await endOfFeed(api);
    expect((await api.call('POST', `/api/users/${user.id}/roles`, { roles: [role] })).statusCode).toBe(200);
    expect((await api.call('DELETE', `/api/users/${user.id}/roles/${role}`)).statusCode).toBeLessThan(300);
    const signOut = await api.call('POST', `/api/users/${user.id}/sessions/revoke`, {});
    expect(signOut.statusCode, signOut.body).toBeLessThan(300);
    const events = await eventsAfter(api, start, 3);
    expect(types(events)).toEqual(['user.updated', 'user.updated', 'session.revoked']);
    expect(events[0]!.data.roles).toEqual([role]);
    expect(events[0]!.previousAttributes).toMatchObject({ roles: [] });
    expect(events[1]!.data.roles).toEqual([]);
    expect(events[1]!.previousAttributes).toMatchObject({ roles: [role] });
    expect(events[2]!.data).toMatchObject({ userId: user.id, allSessions: true });
  });

  it('a PATCH that changes nothing writes no event', async () => {
    const user = (await api.call('POST', '/api/users', { email: email('same'), fullName: 'Same' })).json();
    const start = await endOfFeed(api);
    expect((await api.call('PATCH', `/api/users/${user.id}`, { fullName: 'Same' })).statusCode).toBe(200);
    // A marker after it: once the marker is readable, anything the PATCH wrote would be too.
    const marker = (await api.call('POST', '/api/users', { email: email('marker') })).json();
    const events = await eventsAfter(api, start, 1);
    expect(events.map((e) => [e.type, e.data.id])).toEqual([['user.created', marker.id]]);
  });
});

describe('organizations, memberships, domains', () => {
  it('each carries its organizationId; a membership update has the roles before', async () => {
    const start = await endOfFeed(api);
    const org = (await api.call('POST', '/api/organizations', { displayName: `Org ${uid()}` })).json();
    await api.call('PATCH', `/api/organizations/${org.id}`, { displayName: 'Renamed' });
    const user = (await api.call('POST', '/api/users', { email: email('member') })).json();
    expect((await api.call('PUT', `/api/organizations/${org.id}/members/${user.id}`, { roles: ['member'] })).statusCode).toBe(201);
    expect((await api.call('PUT', `/api/organizations/${org.id}/members/${user.id}`, { roles: ['admin'] })).statusCode).toBe(200);
    const domain = (await api.call('POST', `/api/organizations/${org.id}/domains`, { domain: `d-${uid()}.example` })).json();
    expect((await api.call('POST', `/api/organizations/${org.id}/domains/${domain.id}/mark-verified`, {})).statusCode).toBe(200);
    expect((await api.call('DELETE', `/api/organizations/${org.id}/domains/${domain.id}`)).statusCode).toBe(204);
    expect((await api.call('DELETE', `/api/organizations/${org.id}/members/${user.id}`)).statusCode).toBe(204);
    expect((await api.call('DELETE', `/api/organizations/${org.id}`)).statusCode).toBe(204);

    const events = (await eventsAfter(api, start, 10)).filter((e) => e.type !== 'user.created');
    expect(types(events)).toEqual([
      'organization.created',
      'organization.updated',
      'membership.created',
      'membership.updated',
      'domain.created',
      'domain.verified',
      'domain.deleted',
      'membership.deleted',
      'organization.deleted',
    ]);
    for (const e of events) expect(e.organizationId, e.type).toBe(org.id);
    expect(events[1]!.previousAttributes).toMatchObject({ displayName: org.displayName });
    expect(events[1]!.data.displayName).toBe('Renamed');
    expect(events[3]!.previousAttributes).toMatchObject({ roles: ['member'] });
    expect(events[5]!.data).toMatchObject({ id: domain.id, status: 'verified', verificationMethod: 'manual' });
  });

  it('deleting an organization deletes its bound clients in the same transaction: client.deleted beside organization.deleted', async () => {
    const org = (await api.call('POST', '/api/organizations', { displayName: `Org ${uid()}` })).json();
    const clientId = `org-client-${uid()}`;
    expect((await api.call('PUT', `/api/downstream/MachineClient/${clientId}`, { displayName: 'Bound', allowedScopes: ['iam/organization'], organizationId: org.id })).statusCode).toBe(201);
    const start = await endOfFeed(api);
    expect((await api.call('DELETE', `/api/organizations/${org.id}`)).statusCode).toBe(204);
    const events = await eventsAfter(api, start, 2);
    expect(events.map((e) => [e.type, e.organizationId]).toSorted()).toEqual([
      ['client.deleted', org.id],
      ['organization.deleted', org.id],
    ]);
    expect(events.find((e) => e.type === 'client.deleted')!.data.clientId).toBe(clientId);
  });
});

describe('connections, clients, secrets, keys', () => {
  it('connection.created, updated, activated, deactivated, deleted; the client secret is never in the feed', async () => {
    const org = (await api.call('POST', '/api/organizations', { displayName: `Org ${uid()}` })).json();
    const start = await endOfFeed(api);
    const c = (await api.call('POST', `/api/organizations/${org.id}/connections`, {
      type: 'oidc',
      displayName: 'Okta',
      settings: { issuer: 'https://megacorp.okta.example', clientId: 'client-1' },
      clientSecret: 'connection-secret-value-1',
    })).json();
    expect((await api.call('PATCH', `/api/connections/${c.id}`, { displayName: 'Okta (prod)' })).statusCode).toBe(200);
    expect((await api.call('POST', `/api/connections/${c.id}/activate`, {})).statusCode).toBe(200);
    expect((await api.call('POST', `/api/connections/${c.id}/deactivate`, {})).statusCode).toBe(200);
    expect((await api.call('DELETE', `/api/connections/${c.id}`)).statusCode).toBe(204);
    const events = await eventsAfter(api, start, 5);
    expect(types(events)).toEqual(['connection.created', 'connection.updated', 'connection.activated', 'connection.deactivated', 'connection.deleted']);
    for (const e of events) expect(e.organizationId).toBe(org.id);
    expect(events[1]!.previousAttributes).toMatchObject({ displayName: 'Okta' });
    expect(events[2]!.data.status).toBe('active');
    expect(events[2]!.previousAttributes).toMatchObject({ status: 'draft' });
    expect(JSON.stringify(events)).not.toContain('connection-secret-value-1');
  });

  it('client.created, client.secret_created, client.updated, client.secret_deleted, client.deleted; secrets by metadata only', async () => {
    const start = await endOfFeed(api);
    const id = `feed-${uid()}`;
    expect((await api.call('PUT', `/api/downstream/MachineClient/${id}`, { displayName: 'Feed', allowedScopes: ['iam/'] })).statusCode).toBe(201);
    const secret = (await api.call('POST', `/api/downstream/MachineClient/${id}/secrets`, { description: 'prod' })).json();
    expect((await api.call('PUT', `/api/downstream/MachineClient/${id}`, { displayName: 'Feed 2', allowedScopes: ['iam/'] })).statusCode).toBe(200);
    // The same body again changes nothing: no event.
    expect((await api.call('PUT', `/api/downstream/MachineClient/${id}`, { displayName: 'Feed 2', allowedScopes: ['iam/'] })).statusCode).toBe(200);
    expect((await api.call('DELETE', `/api/downstream/MachineClient/${id}/secrets/${secret.id}`)).statusCode).toBe(204);
    expect((await api.call('DELETE', `/api/downstream/MachineClient/${id}`)).statusCode).toBe(204);
    const events = await eventsAfter(api, start, 5);
    expect(types(events)).toEqual(['client.created', 'client.secret_created', 'client.updated', 'client.secret_deleted', 'client.deleted']);
    expect(events[1]!.data).toEqual({ clientId: id, id: secret.id, description: 'prod', expiresAt: null, createdAt: secret.createdAt });
    expect(events[2]!.previousAttributes).toMatchObject({ displayName: 'Feed' });
    expect(JSON.stringify(events)).not.toContain(secret.secret);
  });

  it('key.rotated and key.revoked name key ids, never key material', async () => {
    const start = await endOfFeed(api);
    const rotated = (await api.call('POST', '/api/keys/rotate', {})).json();
    const revoked = await api.call('POST', `/api/keys/${rotated.next}/revoke`, {});
    expect(revoked.statusCode, revoked.body).toBe(200);
    const events = await eventsAfter(api, start, 2);
    expect(types(events)).toEqual(['key.rotated', 'key.revoked']);
    expect(events[0]!.data).toEqual({ alg: 'ES256', ...rotated });
    expect(JSON.stringify(events)).not.toMatch(/"d"\s*:/);
  });
});

describe('in the transaction of the change', () => {
  it('a transaction that rolls back after publishing leaves no event', async () => {
    const scope = forTenant(env.database.db, api.tenant.tenant.id);
    const start = await endOfFeed(api);
    const ghost = (await api.call('POST', '/api/users', { email: email('ghost') })).json();
    await expect(
      scope.transaction(async (tx) => {
        await publish(tx, { type: 'user.updated', data: { ...ghost, fullName: 'Never' }, previousAttributes: { fullName: null } });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const marker = (await api.call('POST', '/api/users', { email: email('marker') })).json();
    const events = await eventsAfter(api, start, 2);
    expect(events.map((e) => [e.type, e.data.id])).toEqual([
      ['user.created', ghost.id],
      ['user.created', marker.id],
    ]);
  });

  it('publish refuses: outside a transaction, an unknown type, data that does not match the catalog schema', async () => {
    const scope = forTenant(env.database.db, api.tenant.tenant.id);
    const user = (await api.call('POST', '/api/users', { email: email('bad') })).json();
    await expect(publish(scope, { type: 'user.updated', data: user })).rejects.toThrow(/outside a transaction/);
    await expect(scope.transaction((tx) => publish(tx, { type: 'user.exploded', data: {} } as never))).rejects.toThrow(/not in the catalog/);
    await expect(scope.transaction((tx) => publish(tx, { type: 'user.updated', data: { ...user, version: 'x' } } as never))).rejects.toThrow(/does not match/);
  });

  it('fields the catalog schema does not name are dropped before the row is written', async () => {
    const scope = forTenant(env.database.db, api.tenant.tenant.id);
    const user = (await api.call('POST', '/api/users', { email: email('extra') })).json();
    const start = await endOfFeed(api);
    await scope.transaction((tx) => publish(tx, { type: 'user.updated', data: { ...user, passwordHash: '$argon2id$leak' } as never }));
    const [event] = await eventsAfter(api, start, 1);
    expect(event!.data).toEqual(user);
  });
});
