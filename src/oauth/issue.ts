/**
 * Issuing tokens to a signed-in user, shared by the authorization_code and refresh_token grants: an access token
 * (RFC 9068), an ID token when `openid` was granted (OIDC Core §3.1.3.3), and a rotating refresh token when
 * `offline_access` was granted (OIDC Core §11).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { ScopeCatalog } from '../downstream/protected-apis.ts';
import type { ClientRow } from '../downstream/repository.ts';
import { oauthRepository } from './repository.ts';
import type { AccessTokens } from './tokens.ts';
import { claimsFor, type Subject } from './subjects.ts';
import type { TokenResponse } from './grants/types.ts';
import { organizationClaims, type OrganizationContext } from './organization-context.ts';

export const DEFAULT_REFRESH_TTL = 30 * 86_400;
const ID_TOKEN_TTL = 3600;

export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function issueUserTokens(
  deps: { tenant: Tenant; scope: TenantScope; tokens: AccessTokens; catalog: ScopeCatalog; keyring: Keyring; defaultAccessTokenTtl: number },
  input: {
    grantType: 'authorization_code' | 'refresh_token';
    client: ClientRow;
    subject: Subject;
    scopes: string[];
    authTime: Date;
    sessionId: string | null;
    nonce?: string | null;
    /** The organization the grant runs in, with the membership's current roles: `org_id` and `org_roles` (ADR 0009). */
    organization?: OrganizationContext | null;
    /** Rotation: keep the family, absolute expiry and granted scopes of the refresh token being replaced. */
    refresh?: { familyId: string; expiresAt: Date; scopes: string[] };
  },
): Promise<{ response: TokenResponse; jti: string; familyId: string | null }> {
  const { tenant, tokens, catalog } = deps;
  const { client, subject, scopes } = input;
  const ttl = client.accessTokenLifetime ?? deps.defaultAccessTokenTtl;
  const authTime = Math.floor(input.authTime.getTime() / 1000);
  const apiAudiences = catalog.audiencesFor(scopes);
  // OIDC-only tokens are for this issuer's own userinfo endpoint.
  const audiences = apiAudiences.length ? apiAudiences : [tenant.issuer];
  const { token, claims } = await tokens.issue(tenant, {
    grantType: input.grantType,
    sub: subject.id,
    clientId: client.clientId,
    clientInstance: client.instanceId,
    notBefore: subject.tokensNotBefore,
    scopes,
    audiences,
    ttlSeconds: ttl,
    alg: client.tokenSigningAlg,
    authTime,
    sessionId: input.sessionId,
    extra: { roles: subject.roles, ...organizationClaims(input.organization) },
  });
  const response: TokenResponse = { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') };
  if (scopes.includes('openid')) {
    response.id_token = await tokens.issueIdToken(tenant, {
      sub: subject.id,
      clientId: client.clientId,
      ttlSeconds: ID_TOKEN_TTL,
      alg: client.tokenSigningAlg,
      nonce: input.nonce ?? null,
      authTime,
      sessionId: input.sessionId,
      accessToken: token,
      claims: { ...claimsFor(subject, scopes, tenant.id), ...organizationClaims(input.organization) },
    });
  }
  let familyId: string | null = null;
  if ((input.refresh || scopes.includes('offline_access')) && client.clientType !== 'MachineClient') {
    const value = newOpaqueToken();
    familyId = input.refresh?.familyId ?? randomUUID();
    const expiresAt = input.refresh?.expiresAt ?? new Date(Date.now() + (client.refreshTokenLifetime ?? DEFAULT_REFRESH_TTL) * 1000);
    await oauthRepository(deps.scope).insertRefreshToken({
      tokenHash: deps.keyring.hashSecret(value),
      familyId,
      clientId: client.clientId,
      userId: subject.id,
      sessionId: input.sessionId,
      scopes: input.refresh?.scopes ?? scopes,
      organizationId: input.organization?.id ?? null,
      authTime: input.authTime,
      expiresAt,
    });
    response.refresh_token = value;
  }
  return { response, jti: claims.jti, familyId };
}
