/**
 * Refresh token grant, RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2): every use returns a new
 * refresh token; presenting a rotated one revokes the whole family, since either the client or an attacker holds a
 * stolen copy.
 *
 * Policy is re-read at every use (STYLE.md §9): the new tokens carry the stored scopes intersected with what the
 * client may have today and what the tenant still knows, for the user as they are today (active, current roles).
 */
import { InvalidGrant, InvalidRequest, InvalidScope } from '../../platform/errors/oauth.ts';
import { oauthRepository } from '../repository.ts';
import { findSubject } from '../subjects.ts';
import { issueUserTokens } from '../issue.ts';
import { currentOrganization } from '../organization-context.ts';
import { revokeFamily } from '../revocation.ts';
import { recordAudit } from '../../audit/service.ts';
import { OIDC_SCOPES } from '../../downstream/protected-apis.ts';
import type { TenantScope } from '../../platform/db.ts';
import type { Grant } from './types.ts';

export const grantType = 'refresh_token';
export const parameters = ['refresh_token', 'scope'] as const;

/** RFC 9700 §4.14.2 reuse: the family dies, and the trail says so (a stolen refresh token is a security event). */
async function refuseReuse(scope: TenantScope, row: { familyId: string; userId: string; clientId: string }, ip: string): Promise<void> {
  await scope.transaction(async (tx) => {
    await revokeFamily(tx, row.familyId);
    await recordAudit(tx, { type: 'client', id: row.clientId, ip }, {
      action: 'oauth.refresh.reuse',
      targetType: 'user',
      targetId: row.userId,
      after: { outcome: 'refused; token family revoked', familyId: row.familyId },
    });
  });
}

export const grant: Grant = {
  grantType,
  parameters,
  async handle(ctx) {
    const { client, params, scope, keyring } = ctx;
    if (!params.refresh_token) throw new InvalidRequest('refresh_token is required.');
    const hash = keyring.hashSecret(params.refresh_token);
    const row = await oauthRepository(scope).findRefreshToken(hash);
    const invalid = new InvalidGrant('The refresh token is invalid, expired or revoked.');
    if (!row || row.clientId !== client.client.clientId) throw invalid;
    if (row.revokedAt) throw invalid;
    if (row.rotatedAt) {
      await refuseReuse(scope, row, ctx.ip);
      throw invalid;
    }
    if (row.expiresAt.getTime() < Date.now()) throw invalid;
    // Today's policy: what the client may still ask for (its allowed scopes; OpenID scopes need no allowance, as at
    // /authorize, except offline_access) and what the tenant still knows.
    const allowed = (s: string) => ctx.catalog.isKnown(s) && (client.client.allowedScopes.includes(s) || (OIDC_SCOPES.includes(s as never) && s !== 'offline_access'));
    const granted = row.scopes.filter(allowed);
    if (!granted.includes('offline_access') && row.scopes.includes('offline_access')) {
      // The client lost offline access: the grant ends here.
      await revokeFamily(scope, row.familyId);
      throw invalid;
    }
    // §6: the new scope must not include any scope not originally granted.
    let scopes = granted;
    if (params.scope) {
      const requested = [...new Set(params.scope.split(' ').filter(Boolean))];
      if (requested.some((s) => !row.scopes.includes(s))) throw new InvalidScope('A refresh can only narrow the granted scope.');
      scopes = requested.filter((s) => granted.includes(s));
    }
    const subject = await findSubject(scope, row.userId);
    if (!subject?.active) {
      await revokeFamily(scope, row.familyId);
      throw invalid;
    }
    // ADR 0009: an organization grant lives as long as the membership; its roles are re-read here.
    const organization = await currentOrganization(scope, row.organizationId, subject.id);
    if (organization === undefined) {
      await revokeFamily(scope, row.familyId);
      throw invalid;
    }
    const reused = new Error('refresh token reused');
    try {
      return await scope.transaction(async (tx) => {
        // Two concurrent refreshes with one token: exactly one rotates it; the other is reuse.
        const rotated = await oauthRepository(tx).rotateRefreshToken(hash);
        // Leave this transaction first: a revocation written here would roll back with it.
        if (!rotated) throw reused;
        const result = await issueUserTokens(
          { ...ctx, scope: tx },
          {
            client: client.client,
            subject,
            scopes,
            authTime: row.authTime,
            sessionId: row.sessionId,
            organization,
            grantType,
            refresh: { familyId: row.familyId, expiresAt: row.expiresAt, scopes: granted },
          },
        );
        return result.response;
      });
    } catch (e) {
      if (e !== reused) throw e;
      await refuseReuse(scope, row, ctx.ip);
      throw invalid;
    }
  },
};
