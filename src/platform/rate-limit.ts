/**
 * Failure-based limiting of online guessing (RFC 6819 §4.3.2, §5.1.4.2.3) that never locks the owner out.
 *
 * Three counters per failed attempt, shared through PostgreSQL so they hold across instances:
 * - (credential, address): the guesses one source made at one credential. Over the limit, that source is refused
 *   for that credential, even with the right secret: otherwise a refusal would itself tell right from wrong.
 * - address: one source guessing at many credentials (spraying). Over the limit, the address is not blocked:
 *   only the (credential, address) pairs that already failed from it are, so each further credential gets one
 *   guess per window from there, and every other client behind the address (NAT) presenting its correct credential
 *   passes.
 * - credential: many sources guessing at one credential. Over the limit the same rule applies: a source that
 *   already failed at it is refused, any other source still gets its own answer. So a distributed attack gets one
 *   guess per address per window, and the owner, from an address that has not failed, always gets in.
 * The correct credential from another source is therefore never refused, whatever other sources did.
 *
 * A window opens at a counter's first failure and lasts `windowMs` (no wall-clock boundaries); the clock is
 * injectable. Only failures write; a counter over its limit is remembered locally until its window ends, so
 * callers that never fail cost no query. The moment a counter reaches the limit is reported once (`onTrip`, for
 * the audit trail), in the transaction that counted it.
 */
import { eq, gt, sql } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import type { ScopeFor, TenantScope } from './db.ts';
import type { TenantId } from './tenancy/tenant.ts';
import { rateLimitCounters } from '../db/schema/index.ts';

export class TooManyAttempts extends Error {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('Too many failed attempts.');
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
  }
}

export interface Attempt {
  tenantId: TenantId;
  /** What is guessed: client authentication, password sign-in, or the current password on /account. Kinds never mix. */
  kind: 'client' | 'login' | 'account-password';
  /** The presented identifier: a client id, or a normalized login name. */
  credential: string;
  /** The source address (`request.ip`: the client, or the trusted proxy's X-Forwarded-For). */
  address: string;
}

export type Counter = 'credential-address' | 'address' | 'credential';

export interface Trip {
  attempt: Attempt;
  counter: Counter;
  failures: number;
  blockedUntil: Date;
}

export interface FailureLimiterOptions {
  scopeFor: ScopeFor;
  max: number;
  windowMs: number;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  onTrip?: (scope: TenantScope, trip: Trip) => Promise<void>;
}

/** A credential as a key part: no `|` or NUL (PostgreSQL text), and bounded (client ids from Basic are not). */
function part(value: string): string {
  const encoded = encodeURIComponent(value);
  return encoded.length <= 200 ? encoded : `sha256:${createHash('sha256').update(value).digest('base64url')}`;
}

function keysOf(a: Attempt): Record<Counter, string> {
  const cred = part(a.credential);
  const addr = part(a.address);
  return { 'credential-address': `${a.kind}|cred-ip|${addr}|${cred}`, address: `${a.kind}|ip|${addr}`, credential: `${a.kind}|cred|${cred}` };
}

export class FailureLimiter {
  /** `tenant|key` → end of its window, for counters over the limit. */
  readonly #blocked = new Map<string, number>();
  readonly #opts: Required<Omit<FailureLimiterOptions, 'onTrip'>> & Pick<FailureLimiterOptions, 'onTrip'>;

  constructor(opts: FailureLimiterOptions) {
    this.#opts = { now: Date.now, ...opts };
  }

  #until(tenantId: string, key: string, now: number): number | undefined {
    const until = this.#blocked.get(`${tenantId}|${key}`);
    if (until === undefined) return undefined;
    if (until > now) return until;
    this.#blocked.delete(`${tenantId}|${key}`);
    return undefined;
  }

  /** Throws TooManyAttempts when this attempt is refused before its credential is looked at. */
  async check(a: Attempt): Promise<void> {
    // Nothing over its limit anywhere (the usual case): no keys to build.
    if (this.#blocked.size === 0) return;
    const now = this.#opts.now();
    const keys = keysOf(a);
    const pairUntil = this.#until(a.tenantId, keys['credential-address'], now);
    if (pairUntil !== undefined) throw new TooManyAttempts(Math.ceil((pairUntil - now) / 1000));
    const wide = Math.max(this.#until(a.tenantId, keys.address, now) ?? 0, this.#until(a.tenantId, keys.credential, now) ?? 0);
    if (!wide) return;
    // The address or the credential is under attack: a pair that already failed in its window waits; others pass.
    const [row] = await this.#opts
      .scopeFor(a.tenantId)
      .select(rateLimitCounters, eq(rateLimitCounters.key, keys['credential-address']), gt(rateLimitCounters.windowStart, new Date(now - this.#opts.windowMs)));
    if (row && row.count > 0) {
      const until = Math.min(wide, row.windowStart.getTime() + this.#opts.windowMs);
      throw new TooManyAttempts(Math.ceil((until - now) / 1000));
    }
  }

  /** Counts one failure on each of the attempt's counters. */
  async fail(a: Attempt): Promise<void> {
    const now = this.#opts.now();
    const { max, windowMs } = this.#opts;
    const keys = keysOf(a);
    const counterOf = new Map(Object.entries(keys).map(([counter, key]) => [key, counter as Counter]));
    const c = rateLimitCounters;
    const rows = await this.#opts.scopeFor(a.tenantId).transaction(async (tx) => {
      const open = sql`${c.windowStart} > excluded.window_start - ${windowMs} * interval '1 millisecond'`;
      const counted = await tx
        .insert(
          c,
          Object.values(keys).map((key) => ({ key, windowStart: new Date(now), count: 1 })),
        )
        .onConflictDoUpdate({
          target: [c.tenantId, c.key],
          set: {
            count: sql`CASE WHEN ${open} THEN ${c.count} + 1 ELSE 1 END`,
            windowStart: sql`CASE WHEN ${open} THEN ${c.windowStart} ELSE excluded.window_start END`,
          },
        })
        .returning({ key: c.key, count: c.count, windowStart: c.windowStart });
      for (const r of counted) {
        if (r.count === max && this.#opts.onTrip) {
          await this.#opts.onTrip(tx, { attempt: a, counter: counterOf.get(r.key)!, failures: r.count, blockedUntil: new Date(r.windowStart.getTime() + windowMs) });
        }
      }
      return counted;
    });
    if (this.#blocked.size > 100_000) this.#blocked.clear();
    for (const r of rows) if (r.count >= max) this.#blocked.set(`${a.tenantId}|${r.key}`, r.windowStart.getTime() + windowMs);
  }
}

/**
 * Waits until `floorMs` after `started` (a `performance.now()` value), so that every failure of one kind answers
 * after the same time whatever work it did (known or unknown identifier, cached or not). A timer: no CPU is spent.
 */
export async function failureFloor(started: number, floorMs: number): Promise<void> {
  const left = started + floorMs - performance.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
}
