/**
 * Cross-instance cache invalidation over PostgreSQL LISTEN/NOTIFY. A change publishes inside its own transaction
 * (`pg_notify` is delivered at commit, so a rolled-back change invalidates nothing), and every instance, this one
 * included, drops the entry when the notification arrives. Callers also drop their local entry right after commit.
 */
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { TenantScope } from './db.ts';

const CHANNEL = 'iam_invalidate';

export type Topic = 'client' | 'protected-apis' | 'keys' | 'tenant' | 'revoked';
type Listener = (tenantId: string, key: string | undefined) => void;

export class Invalidation {
  readonly #pool: pg.Pool;
  readonly #log: FastifyBaseLogger | undefined;
  readonly #listeners = new Map<Topic, Listener[]>();
  #client: pg.PoolClient | undefined;
  #release: ((err?: Error) => void) | undefined;
  #stopped = false;

  constructor(pool: pg.Pool, log?: FastifyBaseLogger) {
    this.#pool = pool;
    this.#log = log;
  }

  on(topic: Topic, fn: Listener): void {
    this.#listeners.set(topic, [...(this.#listeners.get(topic) ?? []), fn]);
  }

  /** Drops the entry in this instance now. */
  local(topic: Topic, tenantId: string, key?: string): void {
    for (const fn of this.#listeners.get(topic) ?? []) fn(tenantId, key);
  }

  /** Queues the notification in the scope's transaction; it reaches every instance when that commits. */
  publish(scope: TenantScope, topic: Topic, key?: string): Promise<void> {
    return publishInvalidation(scope, topic, key);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    const client = await this.#pool.connect();
    this.#client = client;
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      client.release(err);
    };
    this.#release = release;
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const { topic, tenantId, key } = JSON.parse(msg.payload) as { topic: Topic; tenantId: string; key?: string };
        this.local(topic, tenantId, key);
      } catch {
        this.#log?.warn('malformed invalidation message');
      }
    });
    client.on('error', (err) => {
      release(err);
      if (this.#client === client) this.#client = undefined;
      if (this.#stopped) return;
      this.#log?.warn({ err }, 'invalidation listener lost its connection; reconnecting');
      // Everything cached may have missed notifications while disconnected.
      for (const fns of this.#listeners.values()) for (const fn of fns) fn('*', undefined);
      setTimeout(() => void this.start().catch(() => {}), 1000).unref();
    });
    await client.query(`LISTEN ${CHANNEL}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const c = this.#client;
    const release = this.#release;
    this.#client = undefined;
    this.#release = undefined;
    if (c && release) {
      await c.query(`UNLISTEN ${CHANNEL}`).catch(() => {});
      release();
    }
  }
}

/** For code that holds a scope but no Invalidation instance (e.g. revocation): the same message. */
export async function publishInvalidation(scope: TenantScope, topic: Topic, key?: string): Promise<void> {
  await scope.notify(CHANNEL, { topic, key });
}

/** A per-tenant cache with a time limit, emptied by invalidation messages (`'*'` empties everything). */
export class TenantCache<V> {
  readonly #entries = new Map<string, { value: Promise<V>; until: number }>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(opts: { ttlMs: number; max?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#max = opts.max ?? 50_000;
  }

  get(tenantId: string, key: string, load: () => Promise<V>): Promise<V> {
    const k = `${tenantId}\u0000${key}`;
    const hit = this.#entries.get(k);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = load();
    if (this.#entries.size >= this.#max) this.#entries.clear();
    this.#entries.set(k, { value, until: Date.now() + this.#ttlMs });
    // A failed load is not remembered.
    value.catch(() => this.#entries.get(k)?.value === value && this.#entries.delete(k));
    return value;
  }

  invalidate(tenantId: string, key?: string): void {
    if (tenantId === '*') return this.#entries.clear();
    if (key !== undefined) {
      this.#entries.delete(`${tenantId}\u0000${key}`);
      return;
    }
    for (const k of this.#entries.keys()) if (k.startsWith(`${tenantId}\u0000`)) this.#entries.delete(k);
  }
}
