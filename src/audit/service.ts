/**
 * The audit trail: every administrative change is recorded in the same transaction as the change itself, with the
 * actor, the target and a before/after with secrets removed. Rows are only ever inserted.
 */
import type { TenantScope } from '../platform/db.ts';
import { auditEvents, type ACTOR_TYPES } from '../db/schema/index.ts';
import { FULL_AUTHORITY, type Authority } from '../platform/permissions.ts';
import { auditRepository } from './repository.ts';

/** Who did it, as the trail records it. */
export interface AuditActor {
  /** `directory`: a directory's SCIM bearer token (id: the directory id). */
  type: (typeof ACTOR_TYPES)[number];
  id: string;
  ip?: string | undefined;
}

/** Who does it, and what they hold: services refuse grants beyond `authority` (platform/permissions.ts). */
export interface Actor extends AuditActor {
  authority: Authority;
}

/** The service acting on its own (upstream admission, jobs, bootstrap): admin-equivalent, audited by `id`. */
export function systemActor(id: string, ip?: string): Actor {
  return { type: 'system', id, ip, authority: FULL_AUTHORITY };
}

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

const SECRET_KEY = /secret|password|token|private|hash|sealed|^d$|^p$|^q$|^dp$|^dq$|^qi$/i;
/** Facts about a secret, not the secret: `clientSecretExpiresAt`, `clientSecretSet`, `accessTokenLifetime`, … */
const SECRET_METADATA = /(ExpiresAt|Set|Count|Lifetime|Changed|Alg|Method)$/;

/** Deep copy without anything that looks like a credential: those keys keep their place with "[redacted]". */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactSecrets) as T;
  if (value instanceof Date) return value.toISOString() as T;
  if (Buffer.isBuffer(value)) return '[redacted]' as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && !SECRET_METADATA.test(k) && v !== null && v !== undefined && typeof v !== 'boolean' ? '[redacted]' : redactSecrets(v)]),
    ) as T;
  }
  return value;
}

export async function recordAudit(scope: TenantScope, actor: AuditActor, entry: AuditEntry): Promise<void> {
  await scope.insert(auditEvents, {
    actorType: actor.type,
    actorId: actor.id,
    sourceIp: actor.ip ?? null,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    before: entry.before ? redactSecrets(entry.before) : null,
    after: entry.after ? redactSecrets(entry.after) : null,
  });
}

/** The newest entries matching `filter`, for a capability that shows a slice of the trail (e.g. a directory's refusals). */
export async function recentAuditEntries(scope: TenantScope, filter: { action?: string; targetType?: string; targetId?: string }, limit: number) {
  const rows = await auditRepository(scope).listEvents(filter, { limit });
  return rows.map((r) => ({ at: r.at, action: r.action, actorType: r.actorType, actorId: r.actorId, after: r.after as Record<string, unknown> | null }));
}
