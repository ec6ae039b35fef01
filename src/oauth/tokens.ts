/**
 * JWT access tokens (RFC 9068, https://www.rfc-editor.org/rfc/rfc9068) and ID tokens (OpenID Connect Core §2).
 * Access tokens carry `typ: at+jwt` (§2.1) and are verified with every check of §4: typ, iss, aud (by the caller),
 * exp, and the algorithms we sign with. `verifyActive` adds what a signature cannot tell: revocation, a deleted
 * client, a deactivated user.
 */
import { createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { gt } from 'drizzle-orm';
import { TenantCache, type Invalidation } from '../platform/invalidation.ts';
import { InvalidToken } from '../platform/errors/oauth.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { revokedTokens, SIGNING_ALGS, type SigningAlg } from '../db/schema/index.ts';
import type { KeyStore, SigningKey } from './keys.ts';
import type { ClientDirectory } from '../downstream/directory.ts';
import { findSubject } from './subjects.ts';
import { revokeAccessToken } from './revocation.ts';

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  /** The tenant id, beside `iss`, for resource servers that keep one key set per tenant. */
  tid: string;
  auth_time?: number;
  sid?: string;
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface TokenRequest {
  sub: string;
  clientId: string;
  scopes: string[];
  audiences: string[];
  ttlSeconds: number;
  alg?: SigningAlg;
  authTime?: number;
  sessionId?: string | null;
  /** Extra claims (roles, tenant) for user tokens. */
  extra?: Record<string, unknown>;
}

export class AccessTokens {
  readonly #keys: KeyStore;
  readonly #directory: ClientDirectory | undefined;
  readonly #scopeFor: (ScopeFor) | undefined;
  /** Revoked, unexpired jtis per tenant: few, rarely changed, and dropped on every instance when one is added. */
  readonly #revoked = new TenantCache<Set<string>>({ ttlMs: 60_000 });

  constructor(keys: KeyStore, opts: { directory?: ClientDirectory; scopeFor?: ScopeFor; invalidation?: Invalidation } = {}) {
    this.#keys = keys;
    this.#directory = opts.directory;
    this.#scopeFor = opts.scopeFor;
    opts.invalidation?.on('revoked', (tenantId) => this.#revoked.invalidate(tenantId));
  }

  async issue(tenant: Tenant, input: TokenRequest): Promise<{ token: string; claims: AccessTokenClaims }> {
    const key = await this.#keys.signingKey(tenant.id, input.alg ?? 'ES256');
    const iat = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      ...input.extra,
      iss: tenant.issuer,
      sub: input.sub,
      aud: input.audiences.length === 1 ? input.audiences[0]! : input.audiences,
      client_id: input.clientId,
      scope: input.scopes.join(' '),
      jti: randomUUID(),
      iat,
      exp: iat + input.ttlSeconds,
      tid: tenant.id,
      ...(input.authTime ? { auth_time: input.authTime } : {}),
      ...(input.sessionId ? { sid: input.sessionId } : {}),
    };
    const token = await signJws(key, ACCESS_TOKEN_TYPE, claims);
    return { token, claims };
  }

  /** OIDC Core §2 and §3.1.3.6 (`at_hash`). */
  async issueIdToken(
    tenant: Tenant,
    input: { sub: string; clientId: string; ttlSeconds: number; alg?: SigningAlg; nonce?: string | null; authTime: number; sessionId?: string | null; accessToken?: string; claims: Record<string, unknown> },
  ): Promise<string> {
    const key = await this.#keys.signingKey(tenant.id, input.alg ?? 'ES256');
    const iat = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      ...input.claims,
      iss: tenant.issuer,
      sub: input.sub,
      aud: input.clientId,
      azp: input.clientId,
      iat,
      exp: iat + input.ttlSeconds,
      auth_time: input.authTime,
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.sessionId ? { sid: input.sessionId } : {}),
      ...(input.accessToken ? { at_hash: halfHash(input.accessToken) } : {}),
    };
    return signJws(key, 'JWT', payload);
  }

  /** Verifies signature and claims for `tenant`; any failure is `invalid_token` (RFC 6750 §3.1) with a short reason. */
  async verify(tenant: Tenant, token: string): Promise<AccessTokenClaims> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new InvalidToken('The access token is malformed.');
    }
    // RFC 8725 §3.1: accept only the algorithms we sign with; `none` and HS* never verify.
    if (!header.kid || !SIGNING_ALGS.includes(header.alg as SigningAlg)) throw new InvalidToken('The access token is not signed by this issuer.');
    const key = await this.#keys.verificationKey(tenant.id, header.kid);
    if (!key || key.alg !== header.alg) throw new InvalidToken('The access token is not signed by this issuer.');
    try {
      const { payload } = await jwtVerify(token, key.key, { issuer: tenant.issuer, typ: ACCESS_TOKEN_TYPE, algorithms: [key.alg], requiredClaims: ['sub', 'exp', 'iat', 'client_id', 'jti'] });
      return payload as AccessTokenClaims;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new InvalidToken('The access token expired.');
      throw new InvalidToken('The access token is not valid.');
    }
  }

  /** Revokes one access token (RFC 7009): recorded until it expires; refused here at once, elsewhere at commit. */
  async revoke(scope: TenantScope, jti: string, expiresAt: Date): Promise<void> {
    await revokeAccessToken(scope, jti, expiresAt);
    this.#revoked.invalidate(scope.tenantId);
  }

  /** `verify`, then: not revoked (RFC 7009), its client still exists, and its user (if any) is still active. */
  async verifyActive(tenant: Tenant, token: string): Promise<AccessTokenClaims> {
    const claims = await this.verify(tenant, token);
    if (!(await this.isActive(tenant, claims))) throw new InvalidToken('The access token was revoked.');
    return claims;
  }

  async isActive(tenant: Tenant, claims: AccessTokenClaims): Promise<boolean> {
    if (!this.#scopeFor || !this.#directory) return true;
    const scope = this.#scopeFor(tenant.id);
    const revoked = await this.#revoked.get(tenant.id, 'jtis', async () => {
      const rows = await scope.select(revokedTokens, gt(revokedTokens.expiresAt, new Date()));
      return new Set(rows.map((r) => r.jti));
    });
    if (revoked.has(claims.jti)) return false;
    if (!(await this.#directory.client(tenant.id, claims.client_id))) return false;
    if (claims.sub !== claims.client_id) {
      const user = await findSubject(scope, claims.sub);
      if (!user?.active) return false;
    }
    return true;
  }
}

const SIGN_PARAMS = { ES256: { name: 'ECDSA', hash: 'SHA-256' }, RS256: { name: 'RSASSA-PKCS1-v1_5' } } as const;
const encodedHeaders = new Map<string, string>();

/**
 * JWS compact serialization (RFC 7515 §7.1) signed with WebCrypto directly: the encoded header is made once per
 * key and type, which is most of what a general-purpose JWT builder spends around the signature on the hot path.
 * WebCrypto's ECDSA signature is already the JWS form (r || s, RFC 7518 §3.4).
 */
async function signJws(key: SigningKey, typ: string, payload: object): Promise<string> {
  const headerKey = `${key.kid}|${key.alg}|${typ}`;
  let header = encodedHeaders.get(headerKey);
  if (!header) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ })).toString('base64url');
    if (encodedHeaders.size > 10_000) encodedHeaders.clear();
    encodedHeaders.set(headerKey, header);
  }
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = await crypto.subtle.sign(SIGN_PARAMS[key.alg], key.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** OIDC Core §3.1.3.6: left half of the SHA-256 of the token, base64url (for ES256 and RS256). */
function halfHash(value: string): string {
  const digest = createHash('sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
