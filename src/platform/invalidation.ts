/**
 * Cross-instance cache invalidation over PostgreSQL LISTEN/NOTIFY. A change publishes inside its own transaction
 * (`pg_notify` is delivered at commit, so a rolled-back change invalidates nothing), and every instance, this one
 * included, drops the entry when the notification arrives. Callers also drop their local entry right after commit.
 */
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { TenantScope } from './db.ts';
import { BoundedMap } from './bounded-map.ts';

const CHANNEL = 'iam_invalidate';

export type Topic = 'client' | 'protected-apis' | 'keys' | 'tenant' | 'revoked';
type Listener = (tenantId: string, key: string | undefined) => void;

/** How long a cached entry may live while the listener is down: it cannot hear invalidations then. */
export const DISCONNECTED_CACHE_MS = 1_000;
const HEARTBEAT_MS = 5_000;
const RECONNECT_FIRST_MS = 250;
const BACKOFF_MAX_MS = 2_000;

export class Invalidation {
  readonly #pool: pg.Pool;
  readonly #log: FastifyBaseLogger | undefined;
  readonly #listeners = new Map<Topic, Listener[]>();
  #client: pg.PoolClient | undefined;
  #release: ((err?: Error) => void) | undefined;
  #stopped = true;
  #connected = false;
  #timers = new Set<NodeJS.Timeout>();

  constructor(pool: pg.Pool, log?: FastifyBaseLogger) {
    this.#pool = pool;
    this.#log = log;
  }

  /** False while the listener is reconnecting: caches then keep entries for at most DISCONNECTED_CACHE_MS. */
  get connected(): boolean {
    return this.#connected;
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

  /** Listens; the first connection must succeed (start-up fails otherwise), later losses reconnect for ever. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  #forgetEverything(): void {
    for (const fns of this.#listeners.values()) for (const fn of fns) fn('*', undefined);
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  async #connect(): Promise<void> {
    const client = await this.#pool.connect();
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      client.release(err);
    };
    const lost = (err: Error) => {
      if (released) return;
      release(err);
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#connected = false;
      if (this.#stopped) return;
      this.#log?.warn({ err }, 'invalidation listener lost its connection; reconnecting');
      this.#reconnect(RECONNECT_FIRST_MS);
    };
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const { topic, tenantId, key } = JSON.parse(msg.payload) as { topic: Topic; tenantId: string; key?: string };
        this.local(topic, tenantId, key);
      } catch {
        this.#log?.warn('malformed invalidation message');
      }
    });
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    try {
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      release(err as Error);
      throw err;
    }
    this.#client = client;
    this.#release = release;
    this.#connected = true;
    // Notifications sent while nobody listened are gone: everything cached before now may be stale.
    this.#forgetEverything();
    this.#heartbeat(client, lost);
  }

  /** A connection that died silently (no FIN, e.g. a failover) is noticed by the heartbeat's timeout. */
  #heartbeat(client: pg.PoolClient, lost: (err: Error) => void): void {
    this.#later(() => {
      if (this.#client !== client || this.#stopped) return;
      const timeout = setTimeout(() => lost(new Error('heartbeat timed out')), HEARTBEAT_MS);
      client.query('SELECT 1').then(
        () => {
          clearTimeout(timeout);
          this.#heartbeat(client, lost);
        },
        (err: Error) => {
          clearTimeout(timeout);
          lost(err);
        },
      );
    }, HEARTBEAT_MS);
  }

  /** Retries with backoff until it listens again or is stopped; meanwhile caches are emptied every second. */
  #reconnect(delayMs: number): void {
    const sweep = () => {
      if (this.#stopped || this.#connected) return;
      this.#forgetEverything();
      this.#later(sweep, DISCONNECTED_CACHE_MS);
    };
    if (delayMs === RECONNECT_FIRST_MS) sweep();
    this.#later(() => {
      if (this.#stopped || this.#connected) return;
      this.#connect().catch((err: Error) => {
        this.#log?.debug({ err: err.message }, 'invalidation listener still disconnected');
        this.#reconnect(Math.min(delayMs * 2, BACKOFF_MAX_MS));
      });
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connected = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
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

/**
 * How long a per-instance cache entry (clients, scope catalogs, CORS origins, revoked jtis, signing keys) is used
 * before it is read again. Changes made through the service reach every instance at commit (LISTEN/NOTIFY), and while
 * the listener is disconnected the caches are emptied every second, so this only bounds what nothing announces (a
 * row changed by hand in PostgreSQL). Each re-read costs a few queries per tenant: with 10,000 tenants in use, a
 * 60-second lifetime meant 170 reloads a second (docs/benchmarks.md).
 */
export const CACHE_TTL_MS = 5 * 60_000;

/** Entries per TenantCache by default (least recently used forgotten first; docs/scale-out.md). */
export const TENANT_CACHE_MAX = 100_000;

/** A per-tenant cache with a time limit, emptied by invalidation messages (`'*'` empties everything). */
export class TenantCache<V> {
  readonly #entries: BoundedMap<string, { value: Promise<V>; until: number }>;
  readonly #ttlMs: number;

  constructor(opts: { ttlMs: number; max?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#entries = new BoundedMap(opts.max ?? TENANT_CACHE_MAX);
  }

  get(tenantId: string, key: string, load: () => Promise<V>): Promise<V> {
    const k = `${tenantId}\u0000${key}`;
    const hit = this.#entries.get(k);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = load();
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
