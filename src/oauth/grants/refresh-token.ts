/**
 * Refresh token grant, RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2): every use returns a new
 * refresh token; presenting a rotated one revokes the whole family, since either the client or an attacker holds a
 * stolen copy.
 */
import { eq, isNull } from 'drizzle-orm';
import { InvalidGrant, InvalidRequest, InvalidScope } from '../../platform/errors/oauth.ts';
import { refreshTokens } from '../../db/schema/index.ts';
import { findSubject } from '../subjects.ts';
import { issueUserTokens } from '../issue.ts';
import { revokeFamily } from '../revocation.ts';
import type { Grant } from './types.ts';

export const grantType = 'refresh_token';
export const parameters = ['refresh_token', 'scope'] as const;

export const grant: Grant = {
  grantType,
  parameters,
  async handle(ctx) {
    const { client, params, scope, keyring } = ctx;
    if (!params.refresh_token) throw new InvalidRequest('refresh_token is required.');
    const hash = keyring.hashSecret(params.refresh_token);
    const [row] = await scope.select(refreshTokens, eq(refreshTokens.tokenHash, hash));
    const invalid = new InvalidGrant('The refresh token is invalid, expired or revoked.');
    if (!row || row.clientId !== client.client.clientId) throw invalid;
    if (row.revokedAt) throw invalid;
    if (row.rotatedAt) {
      await revokeFamily(scope, row.familyId);
      throw invalid;
    }
    if (row.expiresAt.getTime() < Date.now()) throw invalid;
    // §6: the new scope must not include any scope not originally granted.
    let scopes = row.scopes;
    if (params.scope) {
      const requested = [...new Set(params.scope.split(' ').filter(Boolean))];
      if (requested.some((s) => !row.scopes.includes(s))) throw new InvalidScope('A refresh can only narrow the granted scope.');
      scopes = requested;
    }
    const subject = await findSubject(scope, row.userId);
    if (!subject?.active) {
      await revokeFamily(scope, row.familyId);
      throw invalid;
    }
    return scope.transaction(async (tx) => {
      // Two concurrent refreshes with one token: exactly one rotates it; the other is reuse.
      const [rotated] = await tx.update(refreshTokens, { rotatedAt: new Date() }, eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt)).returning();
      if (!rotated) {
        await revokeFamily(tx, row.familyId);
        throw invalid;
      }
      const result = await issueUserTokens(
        { ...ctx, scope: tx },
        {
          client: client.client,
          subject,
          scopes,
          authTime: row.authTime,
          sessionId: row.sessionId,
          refresh: { familyId: row.familyId, expiresAt: row.expiresAt, scopes: row.scopes },
        },
      );
      return result.response;
    });
  },
};
