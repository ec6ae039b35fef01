/**
 * Failure-based rate limiting for credential endpoints, shared through PostgreSQL so that it holds across instances.
 * Only failures write (one upsert); a key over its limit is remembered locally until its window ends, so blocked
 * callers cost no query and successful callers cost nothing.
 */
import { sql } from 'drizzle-orm';
import type { ScopeFor } from './db.ts';
import type { TenantId } from './tenancy/tenant.ts';
import { rateLimitCounters } from '../db/schema/index.ts';

export class TooManyAttempts extends Error {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('Too many failed attempts.');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class FailureLimiter {
  readonly #blocked = new Map<string, number>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #scopeFor: ScopeFor;

  constructor(opts: { scopeFor: ScopeFor; max: number; windowMs: number }) {
    this.#scopeFor = opts.scopeFor;
    this.#max = opts.max;
    this.#windowMs = opts.windowMs;
  }

  /** Throws TooManyAttempts when any of the keys is blocked. */
  check(tenantId: string, keys: string[]): void {
    const now = Date.now();
    for (const key of keys) {
      const until = this.#blocked.get(`${tenantId}|${key}`);
      if (until === undefined) continue;
      if (until > now) throw new TooManyAttempts(Math.ceil((until - now) / 1000));
      this.#blocked.delete(`${tenantId}|${key}`);
    }
  }

  /** Counts one failure against each key; keys that pass the limit are blocked until their window ends. */
  async fail(tenantId: TenantId, keys: string[]): Promise<void> {
    const windowStart = new Date(Math.floor(Date.now() / this.#windowMs) * this.#windowMs);
    const scope = this.#scopeFor(tenantId);
    const rows = await scope
      .insert(
        rateLimitCounters,
        keys.map((key) => ({ key, windowStart, count: 1 })),
      )
      .onConflictDoUpdate({
        target: [rateLimitCounters.tenantId, rateLimitCounters.key],
        set: {
          count: sql`CASE WHEN ${rateLimitCounters.windowStart} = excluded.window_start THEN ${rateLimitCounters.count} + 1 ELSE 1 END`,
          windowStart: sql`excluded.window_start`,
        },
      })
      .returning({ key: rateLimitCounters.key, count: rateLimitCounters.count });
    if (this.#blocked.size > 100_000) this.#blocked.clear();
    for (const r of rows) if (r.count >= this.#max) this.#blocked.set(`${tenantId}|${r.key}`, windowStart.getTime() + this.#windowMs);
  }
}
