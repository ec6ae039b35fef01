/**
 * Ending tokens: a refresh token family, an access token by jti, everything of a user. Used by revocation
 * (RFC 7009), authorization-code replay (RFC 6749 §4.1.2), refresh-token reuse (RFC 9700 §4.14.2) and user
 * deactivation.
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { publishInvalidation } from '../platform/invalidation.ts';
import { authorizationCodes, refreshTokens, revokedTokens, sessions } from '../db/schema/index.ts';

export async function revokeFamily(scope: TenantScope, familyId: string): Promise<void> {
  await scope.update(refreshTokens, { revokedAt: new Date() }, eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt));
}

export async function revokeAccessToken(scope: TenantScope, jti: string, expiresAt: Date): Promise<void> {
  await scope.insert(revokedTokens, { jti, expiresAt }).onConflictDoNothing();
  // Every instance's cached revocation list for the tenant is dropped when this commits.
  await publishInvalidation(scope, 'revoked');
}

/** A deactivated or deleted user: sessions end, refresh tokens die; access tokens fail `isActive` on the user. */
export async function revokeEverythingOfUser(scope: TenantScope, userId: string): Promise<void> {
  const now = new Date();
  await scope.update(refreshTokens, { revokedAt: now }, eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt));
  await scope.update(sessions, { endedAt: now }, and(eq(sessions.userId, userId), isNull(sessions.endedAt)));
}

/** A deleted client: its refresh tokens and unredeemed codes die with it (its access tokens fail `isActive`). */
export async function revokeEverythingOfClient(scope: TenantScope, clientId: string): Promise<void> {
  await scope.update(refreshTokens, { revokedAt: new Date() }, eq(refreshTokens.clientId, clientId), isNull(refreshTokens.revokedAt));
  await scope.delete(authorizationCodes, eq(authorizationCodes.clientId, clientId));
}
