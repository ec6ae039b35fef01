/**
 * Snapshot plus stream (issue #13 item 4): a client lists every Directory API page while a random writer changes the
 * directory, then follows the feed from the listing's `feed_cursor`, applying records by `version`; it must end with
 * exactly the directory's state, deletions included, however the writes interleave with its pages.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, testEnv, type TestEnv } from '../support/app.ts';
import { directoryScimClient, GROUP, patch, user } from '../scim/support.ts';

let env: TestEnv;

beforeAll(async () => {
  env = await testEnv();
});
afterAll(() => env.close());

type Rec = { id: string; version: number } & Record<string, unknown>;
type Event = { type: string; directoryId: string | null; position: string; data: Record<string, any> };

/** What a SaaS backend keeps of one directory: records by id and the membership set. */
class Replica {
  users = new Map<string, Rec>();
  groups = new Map<string, Rec>();
  members = new Set<string>(); // `${groupId}|${userId}`

  upsert(map: Map<string, Rec>, r: Rec) {
    const have = map.get(r.id);
    if (!have || r.version > have.version) map.set(r.id, r);
  }
  dropMembersOf(id: string) {
    for (const m of this.members) if (m.startsWith(`${id}|`) || m.endsWith(`|${id}`)) this.members.delete(m);
  }
  page(users: Rec[] | undefined, groups: Rec[] | undefined) {
    for (const u of users ?? []) {
      this.upsert(this.users, u);
      for (const g of u.groups as { id: string }[]) this.members.add(`${g.id}|${u.id}`);
    }
    for (const g of groups ?? []) this.upsert(this.groups, g);
  }
  apply(e: Event) {
    const kind = e.type.slice('organization.directory.'.length);
    if (kind === 'user_created' || kind === 'user_updated') this.upsert(this.users, e.data as Rec);
    else if (kind === 'group_created' || kind === 'group_updated') this.upsert(this.groups, e.data as Rec);
    else if (kind === 'user_deleted') (this.users.delete(e.data.id), this.dropMembersOf(e.data.id));
    else if (kind === 'group_deleted') (this.groups.delete(e.data.id), this.dropMembersOf(e.data.id));
    else if (kind === 'group_user_added') this.members.add(`${e.data.group.id}|${e.data.user.id}`);
    else if (kind === 'group_user_removed') this.members.delete(`${e.data.group.id}|${e.data.user.id}`);
  }
  /** Comparable state: memberships are compared as the set, not through the records' derived fields. */
  state() {
    const strip = (r: Rec) => {
      const { groups: _g, member_count: _m, version: _v, updated_at: _u, ...rest } = r;
      return rest;
    };
    const sorted = (m: Map<string, Rec>) => [...m.values()].map(strip).toSorted((a, b) => a.id.localeCompare(b.id));
    return { users: sorted(this.users), groups: sorted(this.groups), members: [...this.members].toSorted() };
  }
}

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function scenario(seed: number) {
  const c = await directoryScimClient(env);
  const rand = prng(seed);
  const pick = <T,>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(rand() * xs.length)] : undefined);
  const api = async (url: string) => {
    const res = await env.app.inject({ url, headers: { host: c.tenant.host, authorization: `Bearer ${c.admin}` } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const userIds: string[] = [];
  const groupIds: string[] = [];
  let n = 0;
  const op = async () => {
    const r = rand();
    const u = pick(userIds);
    const g = pick(groupIds);
    n++;
    if (r < 0.25 || !u) {
      const res = await c.call('POST', '/Users', user(`u${seed}-${n}@snap.example`, { displayName: `U ${n}` }));
      if (res.statusCode === 201) userIds.push(res.json().id);
    } else if (r < 0.4) await c.call('PATCH', `/Users/${u}`, patch({ op: 'replace', path: 'displayName', value: `U ${n}` }));
    else if (r < 0.47) await c.call('PATCH', `/Users/${u}`, patch({ op: 'replace', path: 'active', value: rand() < 0.5 }));
    else if (r < 0.54) {
      if ((await c.call('DELETE', `/Users/${u}`)).statusCode === 204) userIds.splice(userIds.indexOf(u), 1);
    } else if (r < 0.64 || !g) {
      const res = await c.call('POST', '/Groups', { schemas: [GROUP], displayName: `G ${seed}-${n}`, members: [u, pick(userIds)].filter(Boolean).map((value) => ({ value })) });
      if (res.statusCode === 201) groupIds.push(res.json().id);
    } else if (r < 0.8) await c.call('PATCH', `/Groups/${g}`, patch({ op: 'add', path: 'members', value: [{ value: u }] }));
    else if (r < 0.9) await c.call('PATCH', `/Groups/${g}`, patch({ op: 'remove', path: `members[value eq "${u}"]` }));
    else if (r < 0.95) await c.call('PATCH', `/Groups/${g}`, patch({ op: 'replace', path: 'displayName', value: `G ${seed}-${n}` }));
    else if ((await c.call('DELETE', `/Groups/${g}`)).statusCode === 204) groupIds.splice(groupIds.indexOf(g), 1);
  };
  // A seed population, so the listing has pages to interleave with.
  for (let i = 0; i < 12; i++) await op();

  // Two writers run while the client lists each kind, three records per page; between two pages the client waits
  // for a few writes (not for time), so changes land both on pages already read and on pages still to come.
  const list = async (kind: 'users' | 'groups') => {
    let writing = true;
    let running = 2;
    const writer = async () => {
      for (let i = 0; i < 40 && writing; i++) await op();
      running--;
    };
    const writers = [writer(), writer()];
    const pages: { records: Rec[]; cursor: string }[] = [];
    let token: string | null = null;
    do {
      const page = await api(`/api/directories/${c.directoryId}/${kind}?page_size=3${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      pages.push({ records: page[kind], cursor: page.feed_cursor });
      token = page.next_page_token;
      const seen = n;
      while (n < seen + 3 && running > 0) await new Promise((r) => setImmediate(r));
    } while (token);
    writing = false;
    await Promise.all(writers);
    return pages;
  };
  const userPages = await list('users');
  const groupPages = await list('groups');

  // Every page of one listing answers with the cursor read before its first page.
  expect(new Set(userPages.map((p) => p.cursor)).size).toBe(1);
  expect(new Set(groupPages.map((p) => p.cursor)).size).toBe(1);
  const replica = new Replica();
  for (const p of userPages) replica.page(p.records, undefined);
  for (const p of groupPages) replica.page(undefined, p.records);

  // The server's state, listed once nothing writes any more.
  const truth = new Replica();
  for (const kind of ['users', 'groups'] as const) {
    let token: string | null = null;
    do {
      const page = await api(`/api/directories/${c.directoryId}/${kind}?page_size=500${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      truth.page(kind === 'users' ? page.users : undefined, kind === 'groups' ? page.groups : undefined);
      token = page.next_page_token;
    } while (token);
  }

  // Follow the feed from the users listing's cursor (the earlier one: replaying more is harmless by version) until the
  // replica has caught up. Another file's transaction may hold the horizon back for a moment, so poll, bounded.
  let cursor = userPages[0]!.cursor;
  let applied = 0;
  for (let round = 0; round < 200; round++) {
    const page = await api(`/api/events?after=${encodeURIComponent(cursor)}&organization_id=${c.organizationId}&types=organization.directory.*&limit=500`);
    for (const e of page.items as Event[]) if (e.directoryId === c.directoryId) (replica.apply(e), applied++);
    cursor = page.nextCursor;
    if (!page.hasMore && isDeepStrictEqual(replica.state(), truth.state())) break;
    if (!page.hasMore) await new Promise((r) => setTimeout(r, 50));
  }
  expect(replica.state()).toEqual(truth.state());
  return { users: truth.users.size, groups: truth.groups.size, members: truth.members.size, applied, ops: n };
}

describe('Directory API snapshot + feed', () => {
  it.each([1, 2, 3])('seed %i: pages listed during random writes, then the feed from feed_cursor, equal the directory', async (seed) => {
    const r = await scenario(seed);
    // The scenario exercised something: records on both sides, and events replayed over the pages.
    expect(r.users).toBeGreaterThan(0);
    expect(r.applied).toBeGreaterThan(0);
  });

  it('a page_token carries its listing\'s cursor; a forged one is a 400', async () => {
    const c = await directoryScimClient(env);
    for (let i = 0; i < 3; i++) expect((await c.call('POST', '/Users', user(`p${i}@snap.example`))).statusCode).toBe(201);
    const get = (q: string) => env.app.inject({ url: `/api/directories/${c.directoryId}/users?${q}`, headers: { host: c.tenant.host, authorization: `Bearer ${c.admin}` } });
    const first = (await get('page_size=2')).json();
    expect(first.feed_cursor).toEqual(expect.any(String));
    // A write between the pages moves the feed, not the listing's cursor.
    expect((await c.call('POST', '/Users', user('between@snap.example'))).statusCode).toBe(201);
    const second = (await get(`page_size=2&page_token=${encodeURIComponent(first.next_page_token)}`)).json();
    expect(second.feed_cursor).toBe(first.feed_cursor);
    // The cursor is one the feed accepts, and the write made between the pages is after it.
    let names: string[] = [];
    for (let round = 0; round < 100 && !names.includes('between@snap.example'); round++) {
      const events = await env.app.inject({ url: `/api/events?after=${encodeURIComponent(first.feed_cursor)}&organization_id=${c.organizationId}`, headers: { host: c.tenant.host, authorization: `Bearer ${c.admin}` } });
      expect(events.statusCode, events.body).toBe(200);
      names = events.json().items.map((e: Event) => e.data.user_name);
      if (!names.includes('between@snap.example')) await new Promise((r) => setTimeout(r, 50)); // held back by another file's transaction
    }
    expect(names).toContain('between@snap.example');
    const forged = await get(`page_token=${Buffer.from(JSON.stringify({ a: first.users[0].id })).toString('base64url')}`);
    expect(forged.statusCode).toBe(400);
  });

  it('an organization-scoped client lists its directory and follows its events; another organization\'s stay out', async () => {
    const mine = await directoryScimClient(env);
    const theirs = await directoryScimClient(env, mine.tenant);
    const as = (token: string, url: string) => env.app.inject({ url, headers: { host: mine.tenant.host, authorization: `Bearer ${token}` } });
    const clientId = `dir-reader-${Math.random().toString(36).slice(2, 8)}`;
    const secret = 'd'.repeat(40);
    const put = await env.app.inject({
      method: 'PUT', url: `/api/downstream/MachineClient/${clientId}`,
      headers: { host: mine.tenant.host, authorization: `Bearer ${mine.admin}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ displayName: 'Directory reader', allowedScopes: ['iam/organization'], organizationId: mine.organizationId, clientSecret: secret }),
    });
    expect(put.statusCode, put.body).toBe(201);
    const tok = await env.app.inject({
      method: 'POST', url: '/oauth2/token',
      headers: { host: mine.tenant.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', scope: 'iam/organization' }).toString(),
    });
    expect(tok.statusCode, tok.body).toBe(200);
    const token = tok.json().access_token as string;
    const listing = await as(token, `/api/directories/${mine.directoryId}/users`);
    expect(listing.statusCode, listing.body).toBe(200);
    expect((await as(token, `/api/directories/${theirs.directoryId}/users`)).statusCode).toBe(404);
    expect((await mine.call('POST', '/Users', user('mine@snap.example'))).statusCode).toBe(201);
    expect((await theirs.call('POST', '/Users', user('theirs@snap.example'))).statusCode).toBe(201);
    let seen: Event[] = [];
    for (let round = 0; round < 100 && !seen.some((e) => e.data.user_name === 'mine@snap.example'); round++) {
      const page = await as(token, `/api/events?after=${encodeURIComponent(listing.json().feed_cursor)}&types=organization.directory.*`);
      expect(page.statusCode, page.body).toBe(200);
      seen = page.json().items;
      if (!seen.length) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen.map((e) => e.data.user_name)).toContain('mine@snap.example');
    expect(seen.every((e) => e.directoryId === mine.directoryId)).toBe(true);
    expect((await as(token, `/api/events?organization_id=${theirs.organizationId}`)).statusCode).toBe(404);
  });
});
