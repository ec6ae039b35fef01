/**
 * Authorization code grant, RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.6) and the replay rule of §4.1.2: "If an
 * authorization code is used more than once, the authorization server MUST deny the request and SHOULD revoke
 * (when possible) all tokens previously issued based on that authorization code."
 */
import { createHash } from 'node:crypto';
import { InvalidGrant, InvalidRequest, UnauthorizedClient } from '../../platform/errors/oauth.ts';
import { safeEqual } from '../../platform/crypto.ts';
import { oauthRepository } from '../repository.ts';
import { findSubject } from '../subjects.ts';
import { issueUserTokens } from '../issue.ts';
import { currentOrganization } from '../organization-context.ts';
import { revokeFamily } from '../revocation.ts';
import { recordAudit } from '../../audit/service.ts';
import type { Grant } from './types.ts';

export const grantType = 'authorization_code';
export const parameters = ['code', 'redirect_uri', 'code_verifier'] as const;

/** RFC 7636 §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export const grant: Grant = {
  grantType,
  parameters,
  async handle(ctx) {
    const { client, params, scope, keyring } = ctx;
    if (client.client.clientType === 'MachineClient') throw new UnauthorizedClient('Machine clients use client_credentials.');
    if (!params.code) throw new InvalidRequest('code is required.');
    const hash = keyring.hashSecret(params.code);
    // Single use: the first redemption flips consumed_at atomically; any later one finds it set.
    const code = await oauthRepository(scope).consumeCode(hash);
    if (!code) {
      const used = await oauthRepository(scope).findCode(hash);
      if (used?.consumedAt && used.clientId === client.client.clientId) {
        await scope.transaction(async (tx) => {
          if (used.issuedFamilyId) await revokeFamily(tx, used.issuedFamilyId);
          if (used.issuedJti) await ctx.tokens.revoke(tx, used.issuedJti, new Date(Date.now() + 86_400_000));
          await recordAudit(tx, { type: 'client', id: client.client.clientId, ip: ctx.ip }, {
            action: 'oauth.code.replay',
            targetType: 'user',
            targetId: used.userId,
            after: { outcome: 'refused; tokens issued from the code revoked', revokedFamily: used.issuedFamilyId, revokedJti: used.issuedJti },
          });
        });
      }
      throw new InvalidGrant('The authorization code is invalid, expired or already used.');
    }
    if (code.expiresAt.getTime() < Date.now()) throw new InvalidGrant('The authorization code is invalid, expired or already used.');
    // §4.1.3: "ensure that the authorization code was issued to the authenticated confidential client".
    if (code.clientId !== client.client.clientId) throw new InvalidGrant('The authorization code was issued to another client.');
    // §4.1.3: redirect_uri must be identical to the one in the authorization request.
    if (params.redirect_uri !== code.redirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request.');
    if (code.codeChallenge) {
      if (!params.code_verifier || !VERIFIER.test(params.code_verifier)) throw new InvalidGrant('A valid code_verifier is required (RFC 7636).');
      const computed = Buffer.from(createHash('sha256').update(params.code_verifier).digest('base64url'));
      if (!safeEqual(computed, Buffer.from(code.codeChallenge))) throw new InvalidGrant('code_verifier does not match the code_challenge.');
    } else if (params.code_verifier) {
      // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
      throw new InvalidGrant('code_verifier was sent, but the authorization request had no code_challenge.');
    }
    const subject = await findSubject(scope, code.userId);
    if (!subject?.active) throw new InvalidGrant('The user is not active.');
    // A code from before a deactivation or a sign-out everywhere is as dead as the session it came from.
    if (subject.tokensNotBefore && code.createdAt < subject.tokensNotBefore) {
      throw new InvalidGrant('The authorization code is invalid, expired or already used.');
    }
    // ADR 0009: the organization's roles as they are now; a membership removed since /authorize ends the grant.
    const organization = await currentOrganization(scope, code.organizationId, subject.id);
    if (organization === undefined) throw new InvalidGrant('The user is no longer a member of the organization of this authorization.');
    const issued = await scope.transaction(async (tx) => {
      const result = await issueUserTokens(
        { ...ctx, scope: tx },
        { grantType, client: client.client, subject, scopes: code.scopes, authTime: code.authTime, sessionId: code.sessionId, nonce: code.nonce, organization },
      );
      await oauthRepository(tx).recordCodeIssuance(hash, { familyId: result.familyId, jti: result.jti });
      return result;
    });
    return issued.response;
  },
};
