/**
 * Ending tokens: a refresh token family, an access token by jti, everything of a user. Used by revocation
 * (RFC 7009), authorization-code replay (RFC 6749 §4.1.2), refresh-token reuse (RFC 9700 §4.14.2) and user
 * deactivation.
 */
import type { TenantScope } from '../platform/db.ts';
import { publishInvalidation } from '../platform/invalidation.ts';
import { oauthRepository } from './repository.ts';

export async function revokeFamily(scope: TenantScope, familyId: string): Promise<void> {
  await oauthRepository(scope).revokeRefreshFamily(familyId);
}

export async function revokeAccessToken(scope: TenantScope, jti: string, expiresAt: Date): Promise<void> {
  await oauthRepository(scope).insertRevokedAccessToken(jti, expiresAt);
  // Every instance's cached revocation list for the tenant is dropped when this commits.
  await publishInvalidation(scope, 'revoked');
}

/** A deactivated or deleted user: sessions end, refresh tokens die; access tokens fail `isActive` on the user. */
export async function revokeEverythingOfUser(scope: TenantScope, userId: string): Promise<void> {
  const repo = oauthRepository(scope);
  await repo.revokeRefreshTokensOfUser(userId);
  await repo.endSessionsOfUser(userId);
}

/** A deleted client: its refresh tokens and unredeemed codes die with it (its access tokens fail `isActive`). */
export async function revokeEverythingOfClient(scope: TenantScope, clientId: string): Promise<void> {
  const repo = oauthRepository(scope);
  await repo.revokeRefreshTokensOfClient(clientId);
  await repo.deleteCodesOfClient(clientId);
}
