/**
 * Audit entries for the moment a failure counter reaches its limit (platform/rate-limit.ts): once per counter and
 * window, in the transaction that counted the failure. The actor is what was limited: the client id or login name
 * guessed at, or the source address.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Trip } from '../platform/rate-limit.ts';
import { recordAudit, type AuditActor } from './service.ts';

export async function auditTrip(scope: TenantScope, trip: Trip): Promise<void> {
  const { attempt, counter } = trip;
  const byAddress = counter === 'address';
  const actor: AuditActor = byAddress
    ? { type: 'system', id: attempt.address, ip: attempt.address }
    : { type: attempt.kind === 'client' ? 'client' : 'system', id: attempt.credential, ip: attempt.address };
  await recordAudit(scope, actor, {
    action: 'ratelimit.trip',
    targetType: byAddress ? 'address' : attempt.kind,
    targetId: byAddress ? attempt.address : attempt.credential,
    after: { kind: attempt.kind, counter, failures: trip.failures, blockedUntil: trip.blockedUntil.toISOString(), outcome: 'limited' },
  });
}
