/**
 * JWT access tokens (RFC 9068, https://www.rfc-editor.org/rfc/rfc9068) and ID tokens (OpenID Connect Core §2).
 * Access tokens carry `typ: at+jwt` (§2.1) and are verified with every check of §4: typ, iss, aud (by the caller),
 * exp, and the algorithms we sign with. `verifyActive` adds what a signature cannot tell: revocation, a deleted
 * client, a deactivated user.
 */
import { createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { CACHE_TTL_MS, TenantCache, type Invalidation } from '../platform/invalidation.ts';
import { InvalidToken } from '../platform/errors/oauth.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { SIGNING_ALGS, type SigningAlg } from '../db/schema/index.ts';
import { oauthRepository } from './repository.ts';
import type { KeyStore, SigningKey } from './keys.ts';
import type { ClientDirectory } from '../downstream/directory.ts';
import { findSubject } from './subjects.ts';
import { revokeAccessToken } from './revocation.ts';
import { BoundedMap } from '../platform/bounded-map.ts';

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
  /**
   * The grant that issued the token (as Auth0 names it): what kind of token it is is recorded here at issuance and
   * read from here everywhere (`tokenKind`), never inferred from `sub` and `client_id` looking alike.
   */
  gty: string;
  /** The client's instance id: a client deleted and re-created under the same id does not revive old tokens. */
  client_instance: string;
  auth_time?: number;
  sid?: string;
  /** The organization the token acts in (ADR 0009); absent outside an organization. */
  org_id?: string;
  /** The user's organization roles at issuance (user tokens with `org_id` only). */
  org_roles?: string[];
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Clock skew tolerated for `iat` in the future (RFC 7519 §4.1.6 leaves it to us). */
const IAT_SKEW_SECONDS = 60;

/** The whole second of a user's token cutoff: a token whose `iat` is this or earlier may predate the cutoff. */
function cutoffSecond(notBefore: Date): number {
  return Math.floor(notBefore.getTime() / 1000);
}

/** A machine token is one issued by the client credentials grant (RFC 6749 §4.4); every other grant acts for a user. */
export function tokenKind(claims: Pick<AccessTokenClaims, 'gty'>): 'client' | 'user' {
  return claims.gty === 'client_credentials' ? 'client' : 'user';
}

export interface TokenRequest {
  /** The grant type issuing the token (`gty`). */
  grantType: 'client_credentials' | 'authorization_code' | 'refresh_token';
  sub: string;
  clientId: string;
  clientInstance: string;
  /** The user's token cutoff, for user tokens: `iat` is never before it (see `notBefore` in isActive). */
  notBefore?: Date | null;
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
  readonly #revoked = new TenantCache<Set<string>>({ ttlMs: CACHE_TTL_MS });

  constructor(keys: KeyStore, opts: { directory?: ClientDirectory; scopeFor?: ScopeFor; invalidation?: Invalidation } = {}) {
    this.#keys = keys;
    this.#directory = opts.directory;
    this.#scopeFor = opts.scopeFor;
    opts.invalidation?.on('revoked', (tenantId) => this.#revoked.invalidate(tenantId));
  }

  async issue(tenant: Tenant, input: TokenRequest): Promise<{ token: string; claims: AccessTokenClaims }> {
    const key = await this.#keys.signingKey(tenant.id, input.alg ?? 'ES256');
    // Tokens with `iat` in the cutoff's second count as older than the cutoff; one issued after it must not.
    const iat = Math.max(Math.floor(Date.now() / 1000), input.notBefore ? cutoffSecond(input.notBefore) + 1 : 0);
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
      gty: input.grantType,
      client_instance: input.clientInstance,
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
      ...(input.accessToken ? { at_hash: halfHash(input.accessToken, key.alg) } : {}),
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
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.key, {
        issuer: tenant.issuer,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: [key.alg],
        requiredClaims: ['sub', 'exp', 'iat', 'client_id', 'jti', 'tid', 'gty', 'client_instance'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new InvalidToken('The access token expired.');
      throw new InvalidToken('The access token is not valid.');
    }
    // Claims a signature cannot vouch for the meaning of: the tenant must be the issuer's, `iat` not in the future,
    // and every claim we read of the type we read it as.
    if (payload.tid !== tenant.id) throw new InvalidToken('The access token belongs to another tenant.');
    if (typeof payload.iat !== 'number' || payload.iat > Date.now() / 1000 + IAT_SKEW_SECONDS) throw new InvalidToken('The access token is issued in the future.');
    for (const claim of ['sub', 'client_id', 'scope', 'jti', 'gty', 'client_instance', 'org_id'] as const) {
      if (payload[claim] !== undefined && typeof payload[claim] !== 'string') throw new InvalidToken(`The access token's ${claim} is not a string.`);
    }
    return payload as AccessTokenClaims;
  }

  /** Whether the key named by the token's header still verifies here (cached key set; no signature work). */
  async signedByLiveKey(tenant: Tenant, token: string): Promise<boolean> {
    let kid: string | undefined;
    try {
      ({ kid } = decodeProtectedHeader(token));
    } catch {
      return false;
    }
    // Not inside the try: a database that cannot be reached is a 503 to the caller, not a token refused with 401
    // (bench:soak found SCIM clients told to re-authenticate during a PostgreSQL restart).
    return !!kid && !!(await this.#keys.verificationKey(tenant.id, kid));
  }

  /** Revokes one access token (RFC 7009): recorded until it expires; refused here at once, elsewhere at commit. */
  async revoke(scope: TenantScope, jti: string, expiresAt: Date): Promise<void> {
    await revokeAccessToken(scope, jti, expiresAt);
    this.#revoked.invalidate(scope.tenantId);
  }

  /** `verify`, then: not revoked (RFC 7009), its client still exists, and its user (if any) is still active. */
  async verifyActive(tenant: Tenant, token: string): Promise<AccessTokenClaims & { kind: 'client' | 'user' }> {
    const claims = await this.verify(tenant, token);
    if (!(await this.isActive(tenant, claims))) throw new InvalidToken('The access token was revoked.');
    return { ...claims, kind: tokenKind(claims) };
  }

  async isActive(tenant: Tenant, claims: AccessTokenClaims): Promise<boolean> {
    if (!this.#scopeFor || !this.#directory) return true;
    const scope = this.#scopeFor(tenant.id);
    const revoked = await this.#revoked.get(tenant.id, 'jtis', async () => new Set(await oauthRepository(scope).listLiveRevokedJtis()));
    if (revoked.has(claims.jti)) return false;
    const client = await this.#directory.client(tenant.id, claims.client_id);
    if (!client || client.client.instanceId !== claims.client_instance) return false;
    if (tokenKind(claims) === 'user') {
      const user = await findSubject(scope, claims.sub);
      if (!user?.active) return false;
      // Deactivated (then reactivated) or signed out everywhere since: the token predates the cutoff.
      if (user.tokensNotBefore && claims.iat <= cutoffSecond(user.tokensNotBefore)) return false;
    }
    return true;
  }
}

const SIGN_PARAMS = { ES256: { name: 'ECDSA', hash: 'SHA-256' }, RS256: { name: 'RSASSA-PKCS1-v1_5' }, EdDSA: { name: 'Ed25519' } } as const;
/** Encoded JWS headers by key and type: two per signing key in use (docs/scale-out.md). */
const encodedHeaders = new BoundedMap<string, string>(200_000);

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
    encodedHeaders.set(headerKey, header);
  }
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = await crypto.subtle.sign(SIGN_PARAMS[key.alg], key.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/**
 * OIDC Core §3.1.3.6: the left half of the token's hash, base64url, with the hash of the ID token's `alg`: SHA-256
 * for ES256 and RS256; SHA-512 for EdDSA with Ed25519 (OpenID Connect Core errata set 2, §3.1.3.6).
 */
function halfHash(value: string, alg: SigningAlg): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
