/**
 * Every query of the authorization server's own grants, through the tenant scope: authorization codes (RFC 6749
 * §4.1.2), refresh tokens (§6, rotated per RFC 9700 §4.14.2), revoked access tokens (RFC 7009) and the sessions a
 * revocation ends. Single use is a conditional UPDATE … RETURNING, so two concurrent redemptions cannot both win.
 * Signing keys are queried by their own store (keys.ts), which caches them per tenant.
 */
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { authorizationCodes, refreshTokens, revokedTokens, sessions, usedAssertions } from '../db/schema/index.ts';

export type AuthorizationCodeRow = typeof authorizationCodes.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;

export function oauthRepository(scope: TenantScope) {
  return {
    async insertCode(row: Omit<typeof authorizationCodes.$inferInsert, 'tenantId'>): Promise<void> {
      await scope.insert(authorizationCodes, row);
    },

    /** Marks the code redeemed if nobody did yet; `undefined` when it is unknown or already used. */
    async consumeCode(codeHash: Buffer): Promise<AuthorizationCodeRow | undefined> {
      const [row] = await scope.update(authorizationCodes, { consumedAt: new Date() }, eq(authorizationCodes.codeHash, codeHash), isNull(authorizationCodes.consumedAt)).returning();
      return row;
    },

    async findCode(codeHash: Buffer): Promise<AuthorizationCodeRow | undefined> {
      const [row] = await scope.select(authorizationCodes, eq(authorizationCodes.codeHash, codeHash));
      return row;
    },

    /** What a redemption issued, so that a replay can revoke it (RFC 6749 §4.1.2). */
    async recordCodeIssuance(codeHash: Buffer, issued: { familyId: string | null; jti: string }): Promise<void> {
      await scope.update(authorizationCodes, { issuedFamilyId: issued.familyId, issuedJti: issued.jti }, eq(authorizationCodes.codeHash, codeHash));
    },

    async deleteCodesOfClient(clientId: string): Promise<void> {
      await scope.delete(authorizationCodes, eq(authorizationCodes.clientId, clientId));
    },

    async insertRefreshToken(row: Omit<typeof refreshTokens.$inferInsert, 'tenantId'>): Promise<void> {
      await scope.insert(refreshTokens, row);
    },

    async findRefreshToken(tokenHash: Buffer): Promise<RefreshTokenRow | undefined> {
      const [row] = await scope.select(refreshTokens, eq(refreshTokens.tokenHash, tokenHash));
      return row;
    },

    /** Rotates the token if it is neither rotated nor revoked yet; `undefined` means someone else did (reuse). */
    async rotateRefreshToken(tokenHash: Buffer): Promise<RefreshTokenRow | undefined> {
      const [row] = await scope
        .update(refreshTokens, { rotatedAt: new Date() }, eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt))
        .returning();
      return row;
    },

    async revokeRefreshFamily(familyId: string): Promise<void> {
      await scope.update(refreshTokens, { revokedAt: new Date() }, eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt));
    },

    async revokeRefreshTokensOfUser(userId: string): Promise<void> {
      await scope.update(refreshTokens, { revokedAt: new Date() }, eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt));
    },

    async revokeRefreshTokensOfClient(clientId: string): Promise<void> {
      await scope.update(refreshTokens, { revokedAt: new Date() }, eq(refreshTokens.clientId, clientId), isNull(refreshTokens.revokedAt));
    },

    async endSessionsOfUser(userId: string): Promise<void> {
      await scope.update(sessions, { endedAt: new Date() }, and(eq(sessions.userId, userId), isNull(sessions.endedAt)));
    },

    async insertRevokedAccessToken(jti: string, expiresAt: Date): Promise<void> {
      await scope.insert(revokedTokens, { jti, expiresAt }).onConflictDoNothing();
    },

    /** The jtis revoked and not yet expired: few, cached per tenant by tokens.ts. */
    async listLiveRevokedJtis(): Promise<string[]> {
      const rows = await scope.select(revokedTokens, gt(revokedTokens.expiresAt, new Date()));
      return rows.map((r) => r.jti);
    },

    /** RFC 7523 §3 item 7: records a client assertion's jti; `false` when it was seen before (a replay). */
    async useAssertion(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
      const rows = await scope.insert(usedAssertions, { clientId, jti, expiresAt }).onConflictDoNothing().returning({ jti: usedAssertions.jti });
      return rows.length > 0;
    },
  };
}
