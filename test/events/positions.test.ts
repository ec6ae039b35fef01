/**
 * Positions that never skip (issue #13 item 2, docs/adr/0011-event-positions.md): transactions commit out of order,
 * so a reader that has passed position N must never later find an event below N. Here concurrent transactions
 * insert events and commit in the opposite order of their inserts while a reader polls in between.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { drain, endOfFeed, eventsAfter, type WireEvent } from '../support/events.ts';
import { forTenant, openDatabase, type Database, type TenantScope } from '../../src/platform/db.ts';
import { publish } from '../../src/events/in-transaction.ts';
import { comparePositions, decodePosition } from '../../src/events/service.ts';

let env: TestEnv;
let api: Api;
let scope: TenantScope;
let user: Record<string, any>;
// The writers' own pool: each held-open transaction keeps a connection; the app's pool stays free for the reader.
let writers: Database;

beforeAll(async () => {
  env = await testEnv();
  writers = openDatabase(inject('databaseUrl'), { max: 14 });
  api = await apiFor(env, await env.newTenant());
  scope = forTenant(writers.db, api.tenant.tenant.id);
  user = (await api.call('POST', '/api/users', { email: email('pos') })).json();
});
afterAll(async () => {
  await writers.close();
  await env.close();
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A transaction that publishes one marked event, then waits for `gate` before committing (or rolling back). */
function writer(marker: string, gate: Promise<void>, opts: { rollback?: boolean } = {}) {
  const inserted = deferred();
  const done = scope.transaction(async (tx) => {
    await publish(tx, { type: 'user.updated', data: { ...user, fullName: marker } as never });
    inserted.resolve();
    await gate;
    if (opts.rollback) throw new Error('rolled back');
  });
  return { inserted: inserted.promise, done: opts.rollback ? done.catch(() => undefined) : done };
}

const markers = (events: WireEvent[]) => events.map((e) => e.data.fullName as string);

function assertIncreasing(events: WireEvent[]) {
  for (let i = 1; i < events.length; i++) {
    expect(comparePositions(decodePosition(events[i - 1]!.position), decodePosition(events[i]!.position)), `position ${i}`).toBeLessThan(0);
  }
}

describe('two transactions committing in the opposite order of their inserts', () => {
  it('the later insert stays hidden until the earlier one ends; the reader then sees both, in position order, below nothing it passed', async () => {
    const start = await endOfFeed(api);
    const gate1 = deferred();
    const gate2 = deferred();
    const t1 = writer('first', gate1.promise);
    await t1.inserted;
    const t2 = writer('second', gate2.promise);
    await t2.inserted;
    gate2.resolve();
    await t2.done; // `second` is committed; `first` (inserted before it) is not.

    // The hazard is real: ordered by (xid, seq) without the horizon, `second` is visible and `first` is not, so a
    // cursor placed after `second` would skip `first` when it commits.
    const naive = await scope.execute(
      sql`SELECT data->>'fullName' AS marker FROM events WHERE tenant_id = ${scope.tenantId} AND data->>'fullName' IN ('first', 'second') ORDER BY xid, seq`,
    );
    expect((naive as unknown as { rows: { marker: string }[] }).rows.map((r) => r.marker)).toEqual(['second']);

    // The feed shows neither while `first` is still running.
    const during = await drain(api, start);
    expect(markers(during.items)).not.toContain('second');
    expect(markers(during.items)).not.toContain('first');

    gate1.resolve();
    await t1.done;
    const after = await eventsAfter(api, during.cursor, 2);
    expect(markers(after)).toEqual(['first', 'second']);
    assertIncreasing([...during.items, ...after]);
  });
});

describe('many writers, random commit order, a reader polling throughout', () => {
  it('following the cursor, the reader gets every committed event exactly once, in increasing positions, and no rolled-back one', async () => {
    const start = await endOfFeed(api);
    const n = 12;
    const gates = Array.from({ length: n }, () => deferred());
    const open: ReturnType<typeof writer>[] = [];
    // Inserts in order 0..n-1, each transaction held open.
    for (let i = 0; i < n; i++) {
      const w = writer(`w${i}`, gates[i]!.promise, { rollback: i % 5 === 3 });
      await w.inserted;
      open.push(w);
    }
    const seen: WireEvent[] = [];
    let cursor = start;
    const poll = async () => {
      const page = await drain(api, cursor);
      seen.push(...page.items);
      cursor = page.cursor;
    };
    // Commits in a shuffled order (reverse, interleaved), the reader polling after each.
    const order = Array.from({ length: n }, (_, i) => i).toSorted((a, b) => ((a * 7 + 3) % n) - ((b * 7 + 3) % n));
    for (const i of order) {
      gates[i]!.resolve();
      await open[i]!.done;
      await poll();
      assertIncreasing(seen);
    }
    const committed = Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 !== 3).map((i) => `w${i}`);
    const rest = await eventsAfter(api, cursor, committed.length - seen.length);
    seen.push(...rest);
    assertIncreasing(seen);
    // Exactly the committed ones, each once, in insert order (xid order: each writer's first write was its event).
    expect(markers(seen)).toEqual(committed);
  });
});
