/**
 * Webhook endpoints: the rules. An endpoint follows the tenant's event feed from the moment it is created (its cursor
 * starts at the end of the feed), filtered by event types (`prefix.*` wildcards) and optionally one organization.
 * Its signing secret (`whsec_…`, Standard Webhooks) is shown once and stored sealed; a rotation keeps the previous
 * secret signing beside the new one for a grace period. Every change is audited in its transaction.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { Invalid, NotFound } from '../platform/errors/domain.ts';
import { foreignKeyViolation } from '../platform/db-errors.ts';
import { decodeCursor, encodeCursor, type Page } from '../platform/cursor.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { decodePosition, encodePosition, feedEnd } from '../events/service.ts';
import { z } from 'zod';
import { generateWebhookSecret } from './signature.ts';
import { webhooksRepository, type DeliveryRow, type EndpointRow } from './repository.ts';

export const MAX_ENDPOINTS_PER_TENANT = 50;
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  organizationId: string | null;
  enabled: boolean;
  disabledReason: string | null;
  /** The first failed delivery since the last success, while deliveries fail. */
  failingSince: Date | null;
  /** The position of the last event handed to this endpoint (null: none yet); a replay moves it back. */
  cursor: string | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EndpointInput {
  url: string;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  organizationId?: string | null | undefined;
  enabled?: boolean | undefined;
}

export interface WebhookDeps {
  keyring: Keyring;
  /** The outbound fetcher's URL rule (https, or http to loopback where allowed): undefined when acceptable. */
  checkUrl(url: string): string | undefined;
  /** Schedules a dispatch in `tx` (delivery.ts): an endpoint enabled again catches up now, not at the next sweep. */
  dispatchSoon(tx: TenantScope): Promise<void>;
}

export const secretContext = (tenantId: string, id: string) => `${tenantId}/webhook/${id}`;

export function cursorOf(endpoint: EndpointRow): string | null {
  return endpoint.cursorXid !== null && endpoint.cursorSeq !== null ? encodePosition({ xid: endpoint.cursorXid, seq: endpoint.cursorSeq }) : null;
}

export function toEndpoint(r: EndpointRow): WebhookEndpoint {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.eventTypes,
    organizationId: r.organizationId,
    enabled: r.enabled,
    disabledReason: r.disabledReason,
    failingSince: r.failingSince,
    cursor: cursorOf(r),
    previousSecretExpiresAt: r.previousSecretSealed && r.previousSecretExpiresAt && r.previousSecretExpiresAt > new Date() ? r.previousSecretExpiresAt : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** What an audit entry records of an endpoint: its settings, not its delivery progress. */
export function auditView(e: WebhookEndpoint): Record<string, unknown> {
  const { createdAt, updatedAt, cursor, failingSince, ...rest } = e;
  return rest;
}

function assertUrl(deps: WebhookDeps, url: string): void {
  const problem = deps.checkUrl(url);
  if (problem) throw new Invalid(`The endpoint URL is refused: ${problem}.`, { field: 'url' });
}

function organizationMissing(e: unknown): never {
  if (foreignKeyViolation(e) === 'webhook_endpoints_organization_fk') throw new NotFound('No organization with this id in this tenant.', { field: 'organizationId' });
  throw e;
}

export async function createEndpoint(scope: TenantScope, actor: Actor, deps: WebhookDeps, input: EndpointInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  assertUrl(deps, input.url);
  const secret = generateWebhookSecret();
  return scope.transaction(async (tx) => {
    const repo = webhooksRepository(tx);
    if ((await repo.countEndpoints()) >= MAX_ENDPOINTS_PER_TENANT) throw new Invalid(`A tenant has at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints.`);
    // Follows the feed from its end: events readable later all sort after this position (docs/adr/0010).
    const end = await feedEnd(tx);
    const cursor = end ? decodePosition(end) : undefined;
    let row: EndpointRow;
    try {
      row = await repo.insertEndpoint({
        url: input.url,
        description: input.description ?? null,
        eventTypes: [...new Set(input.eventTypes ?? [])],
        organizationId: input.organizationId ?? null,
        enabled: input.enabled ?? true,
        // Sealed after the id is known: the id is part of the sealing context.
        secretSealed: '',
        cursorXid: cursor?.xid ?? null,
        cursorSeq: cursor?.seq ?? null,
      });
    } catch (e) {
      organizationMissing(e);
    }
    row = (await repo.updateEndpoint(row.id, { secretSealed: deps.keyring.seal(secret, secretContext(tx.tenantId, row.id)) }))!;
    const endpoint = toEndpoint(row);
    await recordAudit(tx, actor, { action: 'webhook.create', targetType: 'webhook', targetId: endpoint.id, after: auditView(endpoint) });
    return { endpoint, secret };
  });
}

/** The endpoint's row, or 404 (`lock`: held for update by the caller's transaction). */
export async function endpointRowOrThrow(scope: TenantScope, id: string, opts: { lock?: 'update' } = {}): Promise<EndpointRow> {
  const row = await webhooksRepository(scope).findEndpoint(id, opts);
  if (!row) throw new NotFound('No webhook endpoint with this id in this tenant.');
  return row;
}

export async function getEndpoint(scope: TenantScope, id: string): Promise<WebhookEndpoint> {
  return toEndpoint(await endpointRowOrThrow(scope, id));
}

export async function listEndpoints(scope: TenantScope): Promise<WebhookEndpoint[]> {
  return (await webhooksRepository(scope).listEndpoints(MAX_ENDPOINTS_PER_TENANT)).map(toEndpoint);
}

export async function updateEndpoint(scope: TenantScope, actor: Actor, deps: WebhookDeps, id: string, patch: Partial<EndpointInput>): Promise<WebhookEndpoint> {
  if (patch.url !== undefined) assertUrl(deps, patch.url);
  return scope.transaction(async (tx) => {
    const repo = webhooksRepository(tx);
    const current = await endpointRowOrThrow(tx, id, { lock: 'update' });
    let row: EndpointRow | undefined;
    try {
      row = await repo.updateEndpoint(id, {
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.eventTypes !== undefined ? { eventTypes: [...new Set(patch.eventTypes)] } : {}),
        ...(patch.organizationId !== undefined ? { organizationId: patch.organizationId } : {}),
        // Enabled again: a new start, so an old failing streak does not disable it at the first failure.
        ...(patch.enabled !== undefined ? { enabled: patch.enabled, disabledReason: null, failingSince: null } : {}),
      });
    } catch (e) {
      organizationMissing(e);
    }
    const before = toEndpoint(current);
    const after = toEndpoint(row!);
    if (after.enabled && !before.enabled) await deps.dispatchSoon(tx);
    await recordAudit(tx, actor, { action: 'webhook.update', targetType: 'webhook', targetId: id, before: auditView(before), after: auditView(after) });
    return after;
  });
}

export async function deleteEndpoint(scope: TenantScope, actor: Actor, id: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const removed = await webhooksRepository(tx).deleteEndpoint(id);
    if (!removed) throw new NotFound('No webhook endpoint with this id in this tenant.');
    await recordAudit(tx, actor, { action: 'webhook.delete', targetType: 'webhook', targetId: id, before: auditView(toEndpoint(removed)) });
  });
}

/** A new secret, shown once; the current one keeps signing beside it for `graceSeconds` (0: stops at once). */
export async function rotateSecret(scope: TenantScope, actor: Actor, deps: WebhookDeps, id: string, graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS): Promise<{ secret: string; previousSecretExpiresAt: Date | null }> {
  const secret = generateWebhookSecret();
  return scope.transaction(async (tx) => {
    const repo = webhooksRepository(tx);
    const current = await endpointRowOrThrow(tx, id, { lock: 'update' });
    const context = secretContext(tx.tenantId, id);
    const previousSecretExpiresAt = graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null;
    await repo.updateEndpoint(id, {
      secretSealed: deps.keyring.seal(secret, context),
      // The sealed value is bound to this endpoint's context, so it moves as it is.
      previousSecretSealed: previousSecretExpiresAt ? current.secretSealed : null,
      previousSecretExpiresAt,
    });
    await recordAudit(tx, actor, { action: 'webhook.secret.rotate', targetType: 'webhook', targetId: id, after: { previousSecretExpiresAt: previousSecretExpiresAt?.toISOString() ?? null } });
    return { secret, previousSecretExpiresAt };
  });
}

/** The secrets that sign now: the current one, and the previous one during its grace period. */
export function signingSecrets(keyring: Keyring, tenantId: string, row: EndpointRow, now = new Date()): string[] {
  const context = secretContext(tenantId, row.id);
  const secrets = [keyring.unseal(row.secretSealed, context)];
  if (row.previousSecretSealed && row.previousSecretExpiresAt && row.previousSecretExpiresAt > now) secrets.push(keyring.unseal(row.previousSecretSealed, context));
  return secrets;
}

const deliveryCursor = z.strictObject({ id: z.number().int().min(1) });

export async function listDeliveries(scope: TenantScope, endpointId: string, query: { cursor?: string | undefined; limit?: number | undefined }): Promise<Page<DeliveryRow>> {
  await getEndpoint(scope, endpointId);
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const before = query.cursor !== undefined ? decodeCursor(query.cursor, deliveryCursor).id : undefined;
  const rows = await webhooksRepository(scope).listDeliveries(endpointId, { beforeId: before, limit: limit + 1 });
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor({ id: items.at(-1)!.id }) : null };
}
