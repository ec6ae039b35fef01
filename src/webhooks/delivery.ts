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
 *    disables the endpoint (audited); anything else is retried with exponential backoff and jitter (pg-boss) for more
 *    than 3 days, after which the endpoint is disabled (audited) and keeps its cursor: re-enabling it resumes there.
 *    Every attempt is in the delivery log.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Jobs } from '../platform/jobs.ts';
import type { Keyring } from '../platform/crypto.ts';
import { OutboundError, type Outbound } from '../platform/outbound.ts';
import { recordAudit, systemActor } from '../audit/service.ts';
import { subscribeFeed } from '../events/in-transaction.ts';
import { decodePosition, encodePosition, feedHeldBack, readFeed, type FeedEventRecord } from '../events/service.ts';
import { eventToWire } from '../events/schemas.ts';
import { webhooksRepository, type EndpointRow } from './repository.ts';
import { signingSecrets } from './service.ts';
import { signedHeaders } from './signature.ts';

export const DISPATCH_QUEUE = 'webhook-dispatch';
export const DELIVERY_QUEUE = 'webhook-delivery';
export const DISPATCH_SWEEP_JOB = 'webhook-dispatch-sweep';

/**
 * Retries: pg-boss waits `delay × 2^n × (1 + random)` seconds before retry n (capped at `maxDelaySeconds`): 30 s, 1 min,
 * 2 min, … then every 6 h. 21 retries span at least 30 × (2^10 − 1) + 11 × 21,600 s ≈ 3.1 days.
 */
export const DELIVERY_RETRY = { limit: 21, delaySeconds: 30, backoff: true, maxDelaySeconds: 21_600 } as const;

/** The shortest time from the first attempt to the last one (every jitter at 0). */
export function minimumRetrySpanSeconds(r: { limit: number; delaySeconds: number; maxDelaySeconds: number } = DELIVERY_RETRY): number {
  let total = 0;
  for (let n = 0; n < r.limit; n++) total += Math.min(r.maxDelaySeconds, r.delaySeconds * 2 ** Math.min(16, n));
  return total;
}

const EXCERPT_CHARS = 1024;
/** The most of a receiver's answer we read; larger answers are a failed attempt. */
const RESPONSE_MAX_BYTES = 64 * 1024;
const DRAIN_BATCH = 100;

export interface DeliveryDeps {
  scopeFor(tenantId: string): TenantScope;
  jobs: Jobs;
  keyring: Keyring;
  outbound: Outbound;
}

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
    handler: async (data) => {
      if (await dispatch(deps, deps.scopeFor(data.tenantId))) {
        // Committed events are still held back by an older running transaction: look again shortly.
        await deps.jobs.send(deps.scopeFor(data.tenantId), DISPATCH_QUEUE, {}, { startAfter: new Date(Date.now() + 1000) });
      }
    },
  });
  deps.jobs.define<DeliveryJob>({
    name: DELIVERY_QUEUE,
    policy: 'key_strict_fifo',
    retry: DELIVERY_RETRY,
    expireInSeconds: 120,
    handler: (data, job) => drainEndpoint(deps, deps.scopeFor(data.tenantId), data.endpointId, job.retryCount + 1, job.retryCount >= DELIVERY_RETRY.limit),
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
    if (page.items.length) await deps.jobs.send<Omit<DeliveryJob, 'tenantId'>>(scope, DELIVERY_QUEUE, { endpointId }, { singletonKey: endpointId });
    heldBack = (await feedHeldBack(scope, cursor)) || heldBack;
  }
  return heldBack;
}

function cursorOf(endpoint: EndpointRow): string | null {
  return endpoint.cursorXid !== null && endpoint.cursorSeq !== null ? encodePosition({ xid: endpoint.cursorXid, seq: endpoint.cursorSeq }) : null;
}

function filterOf(endpoint: EndpointRow) {
  return { types: endpoint.eventTypes.length ? endpoint.eventTypes : undefined, organizationId: endpoint.organizationId ?? undefined };
}

/**
 * Delivers the endpoint's pending events in feed order, moving its cursor past each one delivered; throws on the
 * first failure so pg-boss retries the job (from that event) later. `attempt` is 1 + the job's retries so far.
 */
export async function drainEndpoint(deps: Pick<DeliveryDeps, 'keyring' | 'outbound'>, scope: TenantScope, endpointId: string, attempt: number, lastAttempt = false): Promise<void> {
  const repo = webhooksRepository(scope);
  for (let batches = 0; batches < 20; batches++) {
    const endpoint = await repo.findEndpoint(endpointId);
    // Deleted or disabled meanwhile: nothing to deliver to (a disabled endpoint keeps its cursor).
    if (!endpoint || !endpoint.enabled) return;
    const page = await readFeed(scope, { after: cursorOf(endpoint) ?? undefined, ...filterOf(endpoint), limit: DRAIN_BATCH });
    for (const event of page.items) {
      const outcome = await deliver(deps, scope, endpoint, event, attempt);
      if (outcome === 'gone') return disable(scope, endpointId, 'The receiver answered 410 Gone.', 'receiver answered 410');
      if (outcome !== 'ok') {
        if (lastAttempt) return disable(scope, endpointId, `Deliveries failed for ${Math.round(minimumRetrySpanSeconds() / 86_400)} days and more.`, 'deliveries failing for more than 3 days');
        throw new Error(outcome.error);
      }
      await repo.setCursor(endpointId, decodePosition(event.position));
      // Later events of this run are first attempts.
      attempt = 1;
    }
    if (!page.hasMore) return;
  }
}

async function disable(scope: TenantScope, endpointId: string, reason: string, auditReason: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const updated = await webhooksRepository(tx).updateEndpoint(endpointId, { enabled: false, disabledReason: reason });
    if (updated) await recordAudit(tx, systemActor('webhook-delivery'), { action: 'webhook.disable', targetType: 'webhook', targetId: endpointId, before: { enabled: true }, after: { enabled: false, reason: auditReason } });
  });
}

/** One attempt to deliver one event to one endpoint, logged. */
async function deliver(deps: Pick<DeliveryDeps, 'keyring' | 'outbound'>, scope: TenantScope, endpoint: EndpointRow, event: FeedEventRecord, attempt: number): Promise<'ok' | 'gone' | { error: string }> {
  const body = Buffer.from(JSON.stringify(eventToWire(event)), 'utf8');
  const headers = { 'content-type': 'application/json', ...signedHeaders(signingSecrets(deps.keyring, scope.tenantId, endpoint), event.id, body) };
  const started = performance.now();
  let status: number | null = null;
  let excerpt: string | null = null;
  let error: string | null = null;
  try {
    const res = await deps.outbound.fetch(endpoint.url, { method: 'POST', headers, body, maxBytes: RESPONSE_MAX_BYTES });
    status = res.status;
    excerpt = (await res.text()).slice(0, EXCERPT_CHARS);
  } catch (e) {
    error = e instanceof OutboundError ? `${e.reason}: ${e.message}` : e instanceof Error ? e.message : String(e);
  }
  const ok = status !== null && status >= 200 && status < 300;
  await webhooksRepository(scope).insertDelivery({
    endpointId: endpoint.id,
    eventId: event.id,
    eventType: event.type,
    attempt,
    outcome: ok ? 'succeeded' : 'failed',
    responseStatus: status,
    latencyMs: Math.round(performance.now() - started),
    responseExcerpt: excerpt,
    error: error?.slice(0, EXCERPT_CHARS) ?? null,
  });
  if (ok) return 'ok';
  // Standard Webhooks: 410 Gone means the receiver no longer wants these.
  if (status === 410) return 'gone';
  return { error: error ?? `the receiver answered ${status}` };
}
