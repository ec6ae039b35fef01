/**
 * Periodic upkeep across all tenants (hence `.global`): purge rows whose purpose has expired, and rotate signing
 * keys on a schedule when KEY_ROTATION_DAYS is set. Run by pg-boss (src/platform/jobs.ts), once per schedule however
 * many instances run; tests call these functions directly.
 */
import { and, eq, isNotNull, lt, or } from 'drizzle-orm';
import { forTenant, type GlobalDb } from '../platform/db.ts';
import { authorizationCodes, rateLimitCounters, refreshTokens, revokedTokens, sessions, signingKeys, usedAssertions } from '../db/schema/index.ts';
import type { KeyStore } from './keys.ts';
import type { Keyring } from '../platform/crypto.ts';

export const PURGE_JOB = 'oauth-purge-expired';
export const KEY_ROTATION_JOB = 'oauth-key-rotation';

/** Deletes what can no longer matter; a day of grace keeps recent rows for investigation. */
export async function purgeExpired(db: GlobalDb, now = new Date()): Promise<Record<string, number>> {
  const dayAgo = new Date(now.getTime() - 86_400_000);
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const counts: Record<string, number> = {};
  const run = async (name: string, q: Promise<unknown[]>) => {
    counts[name] = (await q).length;
  };
  await run('authorizationCodes', db.delete(authorizationCodes).where(lt(authorizationCodes.expiresAt, dayAgo)).returning({ x: authorizationCodes.tenantId }));
  await run('usedAssertions', db.delete(usedAssertions).where(lt(usedAssertions.expiresAt, now)).returning({ x: usedAssertions.tenantId }));
  await run('revokedTokens', db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, now)).returning({ x: revokedTokens.tenantId }));
  await run('refreshTokens', db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, dayAgo)).returning({ x: refreshTokens.tenantId }));
  await run('sessions', db.delete(sessions).where(or(lt(sessions.expiresAt, dayAgo), and(isNotNull(sessions.endedAt), lt(sessions.endedAt, dayAgo)))).returning({ x: sessions.tenantId }));
  await run('rateLimitCounters', db.delete(rateLimitCounters).where(lt(rateLimitCounters.windowStart, hourAgo)).returning({ x: rateLimitCounters.tenantId }));
  await run('retiredKeys', db.delete(signingKeys).where(and(eq(signingKeys.status, 'retired'), lt(signingKeys.retireAfter, now))).returning({ x: signingKeys.tenantId }));
  await run('revokedKeys', db.delete(signingKeys).where(and(eq(signingKeys.status, 'revoked'), lt(signingKeys.retireAfter, dayAgo))).returning({ x: signingKeys.tenantId }));
  return counts;
}

/** Rotates every tenant's active keys that have signed for `days` or longer. */
export async function rotateDueKeys(db: GlobalDb, keys: KeyStore, days: number, now = new Date()): Promise<string[]> {
  const due = await db
    .select({ tenantId: signingKeys.tenantId, alg: signingKeys.alg })
    .from(signingKeys)
    .where(and(eq(signingKeys.status, 'active'), lt(signingKeys.activatedAt, new Date(now.getTime() - days * 86_400_000))));
  for (const k of due) await keys.rotate(forTenant(db, k.tenantId), k.alg, 86_400);
  return due.map((k) => `${k.tenantId}/${k.alg}`);
}


/**
 * Start-up check that MASTER_KEY is the key the stored data was sealed with: it unseals one stored signing key.
 * A wrong key would otherwise start "ready" while every token request fails. No stored key yet: nothing to check.
 */
export async function masterKeyOpensStoredKeys(db: GlobalDb, keyring: Keyring): Promise<boolean> {
  const [row] = await db.select({ tenantId: signingKeys.tenantId, kid: signingKeys.kid, sealed: signingKeys.privateJwkSealed }).from(signingKeys).limit(1);
  if (!row) return true;
  try {
    keyring.unseal(row.sealed, `${row.tenantId}/${row.kid}`);
    return true;
  } catch {
    return false;
  }
}
