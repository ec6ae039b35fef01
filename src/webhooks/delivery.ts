/**
 * Webhook delivery through pg-boss (src/platform/jobs.ts), at least once.
 *
 * 1. Every transaction that writes a feed event, in a tenant with an enabled endpoint, enqueues a `webhook-dispatch`
 *    job in the same commit (and a minutely sweep catches anything a trigger missed).
 * 2. Dispatch enqueues one `webhook-delivery` job for each enabled endpoint that has readable events after its
 *    cursor (the last event delivered to it).
 * 3. A delivery job drains its endpoint: it reads the feed after the endpoint's cursor, through the feed's horizon
 *    (docs/adr/0010), and POSTs each matching event in feed order, moving the cursor past each one delivered. The
 *    delivery queue is `key_strict_fifo` by endpoint, so one job at a time works on an endpoint, and while one is
 *    retried the rest wait: a receiver never sees an event before the ones preceding it. Each POST goes through the
 *    bounded outbound fetcher, Standard Webhooks-signed over the exact bytes sent, `webhook-id` = the event id
 *    (receivers deduplicate by it: at least once means a retried event may arrive twice). A 2xx is success; 410
 *    disables the endpoint; anything else is retried with exponential backoff and jitter (pg-boss). An endpoint whose
 *    deliveries have failed for WEBHOOK_DISABLE_AFTER_SECONDS (default 5 days; the retries are sized to outlast it) is
 *    disabled. Disabling is audited and written to the feed (`webhook.disabled`); the endpoint keeps its cursor, so
 *    re-enabling it resumes there. Every attempt is in the delivery log.
 * 4. Out of band, by hand: one event again (`redeliver`, never one the endpoint has not had yet: order holds), a test
 *    message (`sendTest`), and a replay (`replayFrom` moves the cursor back; a drain running meanwhile notices,
 *    because it moves the cursor only from where it found it, and stops).
 */
import type { TenantScope } from '../platform/db.ts';
import type { Jobs } from '../platform/jobs.ts';
import type { Keyring } from '../platform/crypto.ts';
import { OutboundError, type Outbound, type OutboundSession } from '../platform/outbound.ts';
import { randomUUID } from 'node:crypto';
import { recordAudit, systemActor, type Actor } from '../audit/service.ts';
import { publish, subscribeFeed } from '../events/in-transaction.ts';
import { comparePositions, decodePosition, feedHeldBack, findFeedEvent, readFeed, type FeedEventRecord, type FeedPosition } from '../events/service.ts';
import { eventToWire } from '../events/schemas.ts';
import { Conflict, Invalid, NotFound } from '../platform/errors/domain.ts';
import { matchesTypeFilter } from '../events/catalog.ts';
import { webhooksRepository, type DeliveryInsert, type DeliveryRow, type EndpointRow } from './repository.ts';
import { cursorOf, endpointRowOrThrow, signingSecrets, toEndpoint, type WebhookEndpoint } from './service.ts';
import { signedHeaders } from './signature.ts';
import { webhookData } from './events.ts';

export const DISPATCH_QUEUE = 'webhook-dispatch';
export const DELIVERY_QUEUE = 'webhook-delivery';
export const DISPATCH_SWEEP_JOB = 'webhook-dispatch-sweep';

/** The default of WEBHOOK_DISABLE_AFTER_SECONDS: 5 days of failures (Svix's figure; Scalekit gives up after ~22 minutes). */
export const DEFAULT_DISABLE_AFTER_SECONDS = 5 * 86_400;

/** Retries go on for at least this long, whatever the settings (issue #13: "for at least 3 days"). */
const MINIMUM_RETRY_SPAN_SECONDS = 3 * 86_400;

/**
 * Retries: pg-boss waits `delay × 2^n × (1 + random)` seconds before retry n (capped at `maxDelaySeconds`): 30 s, 1 min,
 * 2 min, … then every 6 h. `deliveryRetry(d)` has just enough retries that, every jitter at 0, the last one comes at
 * least `d` seconds (and at least 3 days) after the first attempt: the disabling rule, not the retry count, decides
 * when an endpoint is given up.
 */
export function deliveryRetry(disableAfterSeconds = DEFAULT_DISABLE_AFTER_SECONDS, delaySeconds = 30) {
  const r = { limit: 1, delaySeconds, backoff: true, maxDelaySeconds: 21_600 };
  while (minimumRetrySpanSeconds(r) < Math.max(disableAfterSeconds, MINIMUM_RETRY_SPAN_SECONDS)) r.limit++;
  return r;
}

/** The shortest time from the first attempt to the last one (every jitter at 0). */
export function minimumRetrySpanSeconds(r: { limit: number; delaySeconds: number; maxDelaySeconds: number } = deliveryRetry()): number {
  let total = 0;
  for (let n = 0; n < r.limit; n++) total += Math.min(r.maxDelaySeconds, r.delaySeconds * 2 ** Math.min(16, n));
  return total;
}

/** 432000 → "5 days", 7200 → "2 hours", 90 → "90 seconds". */
function period(seconds: number): string {
  const [unit, size] = seconds % 86_400 === 0 ? ['day', 86_400] : seconds % 3600 === 0 ? ['hour', 3600] : seconds % 60 === 0 ? ['minute', 60] : ['second', 1];
  const n = seconds / (size as number);
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const EXCERPT_CHARS = 1024;
/** The most of a receiver's answer we read; larger answers are a failed attempt. */
const RESPONSE_MAX_BYTES = 64 * 1024;
const DRAIN_BATCH = 100;
/** Batches one delivery job sends before it hands over to a successor (other endpoints' jobs get a turn meanwhile). */
const DRAIN_BATCHES = 20;

export interface DeliveryDeps {
  scopeFor(tenantId: string): TenantScope;
  jobs: Jobs;
  keyring: Keyring;
  outbound: Outbound;
  /** WEBHOOK_DISABLE_AFTER_SECONDS: an endpoint failing this long is disabled. */
  disableAfterSeconds: number;
  /** WEBHOOK_RETRY_DELAY_SECONDS: the first retry's delay (default 30). */
  retryDelaySeconds?: number;
  /** Events one delivery job sends before it hands over to a successor (default DRAIN_BATCHES × DRAIN_BATCH). */
  eventsPerRun?: number;
}
type SendDeps = Pick<DeliveryDeps, 'keyring' | 'outbound' | 'disableAfterSeconds' | 'eventsPerRun'>;

interface DeliveryJob {
  tenantId: string;
  endpointId: string;
}

// Set when the webhooks capability registers (src/webhooks/routes.ts): the app's job runner.
let triggerJobs: Jobs | undefined;
const triggered = new WeakSet<TenantScope>();

// One dispatch job per committing transaction, only in tenants that have an enabled endpoint.
subscribeFeed(async (tx) => {
  if (!triggerJobs || triggered.has(tx)) return;
  triggered.add(tx);
  if (await webhooksRepository(tx).hasEnabledEndpoint()) await triggerJobs.send(tx, DISPATCH_QUEUE, {});
});

export function defineWebhookQueues(deps: DeliveryDeps): void {
  triggerJobs = deps.jobs;
  deps.jobs.define<{ tenantId: string }>({
    name: DISPATCH_QUEUE,
    retry: { limit: 10, delaySeconds: 5, backoff: true, maxDelaySeconds: 300 },
    notify: true,
    handler: async (data) => {
      if (await dispatch(deps, deps.scopeFor(data.tenantId))) {
        // Committed events are still held back by an older running transaction: look again shortly.
        await deps.jobs.send(deps.scopeFor(data.tenantId), DISPATCH_QUEUE, {}, { startAfter: new Date(Date.now() + 1000) });
      }
    },
  });
  const retry = deliveryRetry(deps.disableAfterSeconds, deps.retryDelaySeconds);
  deps.jobs.define<DeliveryJob>({
    name: DELIVERY_QUEUE,
    policy: 'key_strict_fifo',
    retry,
    expireInSeconds: 120,
    // An instance killed mid-delivery: another one's supervisor retries its job once the heartbeat lapses.
    heartbeatSeconds: 10,
    notify: true,
    // Endpoints are drained side by side (one job per endpoint at a time, by key): a slow receiver holds up only its own.
    concurrency: 8,
    handler: async (data, job) => {
      const scope = deps.scopeFor(data.tenantId);
      // A long backlog: this run stopped at its share, a successor (queued behind it, by key) goes on.
      if (await drainEndpoint(deps, scope, data.endpointId, job.retryCount + 1, job.retryCount >= retry.limit)) {
        await deps.jobs.send<Omit<DeliveryJob, 'tenantId'>>(scope, DELIVERY_QUEUE, { endpointId: data.endpointId }, { singletonKey: data.endpointId });
      }
    },
  });
}

/** A delivery job for every enabled endpoint with readable events after its cursor. True when the horizon held some back. */
export async function dispatch(deps: Pick<DeliveryDeps, 'jobs'>, scope: TenantScope): Promise<boolean> {
  let heldBack = false;
  const repo = webhooksRepository(scope);
  for (const endpointId of await repo.enabledEndpointIds()) {
    const endpoint = await repo.findEndpoint(endpointId);
    if (!endpoint) continue;
    const cursor = cursorOf(endpoint);
    const page = await readFeed(scope, { after: cursor ?? undefined, ...filterOf(endpoint), limit: 1 });
    // A job that is queued, or waiting out a retry, will read the feed when it runs: another one would only queue
    // behind it (the minutely sweep would pile up one per minute during an outage). An active one may have read
    // before this event was readable, so it gets a successor.
    if (page.items.length && !(await deps.jobs.hasWaiting(scope, DELIVERY_QUEUE, endpointId))) {
      await deps.jobs.send<Omit<DeliveryJob, 'tenantId'>>(scope, DELIVERY_QUEUE, { endpointId }, { singletonKey: endpointId });
    }
    heldBack = (await feedHeldBack(scope, cursor)) || heldBack;
  }
  return heldBack;
}

function filterOf(endpoint: EndpointRow) {
  return { types: endpoint.eventTypes.length ? endpoint.eventTypes : undefined, organizationId: endpoint.organizationId ?? undefined };
}

/**
 * Delivers the endpoint's pending events in feed order, moving its cursor past each one delivered; throws on the
 * first failure so pg-boss retries the job (from that event) later. `attempt` is 1 + the job's retries so far. True
 * when it stopped at its share (`eventsPerRun`) with more to deliver.
 */
export async function drainEndpoint(deps: SendDeps, scope: TenantScope, endpointId: string, attempt: number, lastAttempt = false): Promise<boolean> {
  const repo = webhooksRepository(scope);
  // One keep-alive connection for the run; each request is still checked as any other (platform/outbound.ts).
  const session = deps.outbound.session();
  const journal = new DeliveryJournal(scope, endpointId);
  let share = deps.eventsPerRun ?? DRAIN_BATCHES * DRAIN_BATCH;
  try {
    while (share > 0) {
      await journal.settled();
      const endpoint = await repo.findEndpoint(endpointId);
      // Deleted or disabled meanwhile: nothing to deliver to (a disabled endpoint keeps its cursor).
      if (!endpoint || !endpoint.enabled) return false;
      let cursor = cursorOf(endpoint);
      const secrets = signingSecrets(deps.keyring, scope.tenantId, endpoint);
      const page = await readFeed(scope, { after: cursor ?? undefined, ...filterOf(endpoint), limit: Math.min(DRAIN_BATCH, share) });
      share -= page.items.length;
      for (const event of page.items) {
        // A replay moved the cursor away from this run's: its own job takes over.
        if (journal.replayed) return false;
        const sent = await send(deps, { endpoint, secrets, session }, eventToWire(event), attempt, 'delivery');
        if (sent.result === 'gone') {
          journal.add(sent.delivery);
          await journal.settled();
          await disable(scope, endpointId, 'The receiver answered 410 Gone.');
          return false;
        }
        if (sent.result === 'failed') {
          journal.add(sent.delivery);
          await journal.settled();
          const since = await repo.markFailing(endpointId, sent.attemptedAt);
          if (lastAttempt || sent.attemptedAt.getTime() - since.getTime() >= deps.disableAfterSeconds * 1000) {
            await disable(scope, endpointId, `Deliveries failed for ${period(deps.disableAfterSeconds)} (since ${since.toISOString()}).`);
            return false;
          }
          throw new Error(sent.error);
        }
        journal.add(sent.delivery, { from: cursor ? decodePosition(cursor) : null, to: decodePosition(event.position) });
        cursor = event.position;
        // Later events of this run are first attempts.
        attempt = 1;
      }
      if (!page.hasMore) return false;
    }
    return true;
  } finally {
    session.close();
    await journal.settled();
  }
}

/**
 * A run's delivery log rows and cursor moves, written off the sending path: the next event goes out while the ones
 * before it are recorded, and what piles up meanwhile is written in one transaction (one commit, one WAL flush, for
 * many deliveries). The cursor moves by compare-and-set from where the run found it (`replayed` when a replay moved
 * it). A crash loses at most the moves not yet written: those events are delivered again, never skipped.
 */
class DeliveryJournal {
  #rows: DeliveryInsert[] = [];
  #move: { from: FeedPosition | null; to: FeedPosition } | undefined;
  #writing: Promise<void> | undefined;
  #error: unknown;
  replayed = false;

  readonly #scope: TenantScope;
  readonly #endpointId: string;
  constructor(scope: TenantScope, endpointId: string) {
    this.#scope = scope;
    this.#endpointId = endpointId;
  }

  add(row: DeliveryInsert, move?: { from: FeedPosition | null; to: FeedPosition }): void {
    this.#rows.push(row);
    if (move) this.#move = { from: this.#move?.from ?? move.from, to: move.to };
    this.#writing ??= this.#write().finally(() => (this.#writing = undefined));
  }

  /** Everything added so far is written (or the first write error is thrown). */
  async settled(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#error) throw this.#error;
  }

  async #write(): Promise<void> {
    while (this.#rows.length && !this.#error) {
      const rows = this.#rows;
      const move = this.#move;
      this.#rows = [];
      this.#move = undefined;
      try {
        await this.#scope.transaction(async (tx) => {
          const repo = webhooksRepository(tx);
          await repo.insertDeliveries(rows);
          if (move && !this.replayed && !(await repo.advanceCursor(this.#endpointId, move.from, move.to))) this.replayed = true;
        });
      } catch (e) {
        this.#error = e;
      }
    }
  }
}

/** The service gives up on an endpoint: audited, and `webhook.disabled` in the feed, in one transaction. */
async function disable(scope: TenantScope, endpointId: string, reason: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const repo = webhooksRepository(tx);
    const current = await repo.findEndpoint(endpointId, { lock: 'update' });
    if (!current?.enabled) return;
    const updated = toEndpoint((await repo.updateEndpoint(endpointId, { enabled: false, disabledReason: reason }))!);
    await recordAudit(tx, systemActor('webhook-delivery'), { action: 'webhook.disable', targetType: 'webhook', targetId: endpointId, before: { enabled: true }, after: { enabled: false, reason } });
    await publish(tx, { type: 'webhook.disabled', organizationId: updated.organizationId, data: webhookData(updated), previousAttributes: { enabled: true, disabledReason: null } });
  });
}

/**
 * One event again, by hand (e.g. the receiver lost it): one attempt now, logged as a `redelivery`. Only an event the
 * endpoint has been handed already (at or before its cursor) and that it subscribes to: sending one ahead of its
 * turn would break feed order, and it will come anyway.
 */
export async function redeliver(deps: SendDeps, scope: TenantScope, actor: Actor, endpointId: string, eventId: string): Promise<DeliveryRow> {
  const endpoint = await endpointRowOrThrow(scope, endpointId);
  const event = await findFeedEvent(scope, eventId);
  if (!event) throw new NotFound('No event with this id in the feed (it may be older than the retention).', { field: 'eventId' });
  const { types, organizationId } = filterOf(endpoint);
  if ((types && !matchesTypeFilter(types, event.type)) || (organizationId && event.organizationId !== organizationId)) {
    throw new Invalid('This endpoint does not subscribe to this event (its types or organization filter).', { field: 'eventId' });
  }
  const cursor = cursorOf(endpoint);
  if (!cursor || comparePositions(decodePosition(event.position), decodePosition(cursor)) > 0) {
    throw new Conflict('This event has not been delivered to this endpoint yet; it will be, in feed order.', { field: 'eventId' });
  }
  const row = await sendLogged(deps, scope, endpoint, eventToWire(event), 'redelivery');
  // Data left the service again, at an administrator's request.
  await recordAudit(scope, actor, { action: 'webhook.redeliver', targetType: 'webhook', targetId: endpointId, after: { eventId, eventType: event.type, outcome: row.outcome, responseStatus: row.responseStatus } });
  return row;
}

/**
 * Replays the feed to an endpoint from `after` (a feed cursor; null: the oldest event kept): its cursor moves back
 * there and delivery resumes from it, in order, through pg-boss. Backwards only (skipping ahead would drop events
 * unseen), and not before the retention horizon (410). A delivery waiting out a retry resumes from the new cursor
 * when it runs; re-enable a disabled endpoint for the replay to go out.
 */
export async function replayFrom(deps: Pick<DeliveryDeps, 'jobs'>, scope: TenantScope, actor: Actor, endpointId: string, after: string | null): Promise<WebhookEndpoint> {
  const to = after === null ? null : decodePosition(after);
  return scope.transaction(async (tx) => {
    const repo = webhooksRepository(tx);
    const current = await endpointRowOrThrow(tx, endpointId, { lock: 'update' });
    // readFeed answers 410 Gone for a cursor before the retention horizon.
    await readFeed(tx, { after: after ?? undefined, limit: 1 });
    const from = cursorOf(current);
    if (to && (!from || comparePositions(to, decodePosition(from)) > 0)) {
      throw new Invalid('A replay moves the cursor back: `after` must not be later than the endpoint\'s cursor.', { field: 'after' });
    }
    await repo.setCursor(endpointId, to);
    await recordAudit(tx, actor, { action: 'webhook.replay', targetType: 'webhook', targetId: endpointId, before: { cursor: from }, after: { cursor: after } });
    await deps.jobs.send(tx, DISPATCH_QUEUE, {});
    return toEndpoint((await repo.findEndpoint(endpointId))!);
  });
}

/**
 * A `webhook.test` message, signed like every delivery, sent now whether or not the endpoint is enabled (check a
 * receiver before enabling it). Not in the feed: it has no position, and it does not move the cursor.
 */
export async function sendTest(deps: SendDeps, scope: TenantScope, endpointId: string): Promise<DeliveryRow> {
  const endpoint = await endpointRowOrThrow(scope, endpointId);
  const message = {
    id: randomUUID(),
    type: TEST_EVENT_TYPE,
    occurredAt: new Date().toISOString(),
    position: null,
    organizationId: endpoint.organizationId,
    directoryId: null,
    data: { webhookId: endpoint.id, url: endpoint.url, message: 'A test message from the IAM service; it is not in the event feed.' },
    previousAttributes: null,
  };
  return sendLogged(deps, scope, endpoint, message, 'test');
}

export const TEST_EVENT_TYPE = 'webhook.test';

/** What goes out, as JSON: a feed event as `GET /api/events` shows it (eventToWire), or the test message. */
type Message = { id: string; type: string } & Record<string, unknown>;
interface Target {
  endpoint: EndpointRow;
  /** The secrets that sign now (signingSecrets), unsealed once per run. */
  secrets: string[];
  session?: OutboundSession | undefined;
}
type Sent = { delivery: DeliveryInsert; attemptedAt: Date } & ({ result: 'ok' | 'gone' } | { result: 'failed'; error: string });

/** One attempt to deliver one message to one endpoint; the caller logs `delivery`. */
async function send(deps: SendDeps, target: Target, event: Message, attempt: number, trigger: DeliveryRow['trigger']): Promise<Sent> {
  const body = Buffer.from(JSON.stringify(event), 'utf8');
  const headers = { 'content-type': 'application/json', ...signedHeaders(target.secrets, event.id, body) };
  const attemptedAt = new Date();
  const started = performance.now();
  let status: number | null = null;
  let excerpt: string | null = null;
  let error: string | null = null;
  try {
    const res = await deps.outbound.fetch(target.endpoint.url, { method: 'POST', headers, body, maxBytes: RESPONSE_MAX_BYTES, session: target.session });
    status = res.status;
    excerpt = (await res.text()).slice(0, EXCERPT_CHARS);
  } catch (e) {
    error = e instanceof OutboundError ? `${e.reason}: ${e.message}` : e instanceof Error ? e.message : String(e);
  }
  const ok = status !== null && status >= 200 && status < 300;
  const delivery: DeliveryInsert = {
    endpointId: target.endpoint.id,
    eventId: event.id,
    eventType: event.type,
    attempt,
    trigger,
    outcome: ok ? 'succeeded' : 'failed',
    responseStatus: status,
    latencyMs: Math.round(performance.now() - started),
    responseExcerpt: excerpt,
    error: error?.slice(0, EXCERPT_CHARS) ?? null,
    attemptedAt,
  };
  if (ok) return { result: 'ok', delivery, attemptedAt };
  // Standard Webhooks: 410 Gone means the receiver no longer wants these.
  if (status === 410) return { result: 'gone', delivery, attemptedAt };
  return { result: 'failed', delivery, attemptedAt, error: error ?? `the receiver answered ${status}` };
}

/** One attempt now, logged before it is answered (redelivery, test). */
async function sendLogged(deps: SendDeps, scope: TenantScope, endpoint: EndpointRow, event: Message, trigger: DeliveryRow['trigger']): Promise<DeliveryRow> {
  const sent = await send(deps, { endpoint, secrets: signingSecrets(deps.keyring, scope.tenantId, endpoint) }, event, 1, trigger);
  return webhooksRepository(scope).insertDelivery(sent.delivery);
}
