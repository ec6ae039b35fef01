/**
 * Who may call /scim/v2: Bearer credentials (RFC 6750 §2.1, https://www.rfc-editor.org/rfc/rfc6750#section-2.1),
 * checked by a list of strategies. Today there is one: access tokens from our token endpoint for audience `scim`
 * (client_credentials with HTTP Basic, as Bizagi's guide does). A per-directory long-lived bearer token (coming with
 * organizations and directories) is a second strategy in the list; the routes only ever see a `ScimPrincipal`.
 *
 * Scopes: `scim.read` for GET and POST …/.search, `scim.write` for every change (403 insufficient_scope otherwise,
 * RFC 6750 §3.1).
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { bearerToken, type UserAuthority } from '../platform/auth.ts';
import { FULL_AUTHORITY, type Authority } from '../platform/permissions.ts';
import { tokenKind } from '../oauth/tokens.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import type { AccessTokenClaims } from '../oauth/tokens.ts';
import { InsufficientScope, InvalidRequest, InvalidToken } from '../platform/errors/oauth.ts';
import { Forbidden } from '../platform/errors/domain.ts';

export const SCIM_AUDIENCE = 'scim';
export const SCIM_READ = 'scim.read';
export const SCIM_WRITE = 'scim.write';
export type ScimScope = typeof SCIM_READ | typeof SCIM_WRITE;

export interface ScimPrincipal {
  /** `client` for OAuth clients; `user` for a user signed in through a client; `directory` for a directory token. */
  actorType: 'client' | 'user' | 'directory';
  /** The audit actor id: the client id, the user id, or the directory id. */
  actorId: string;
  clientId: string;
  scopes: readonly string[];
  /** Which strategy accepted the credential, for the request log and audit. */
  via: string;
  /** What the caller holds: provisioning clients are admin-equivalent over users (scim.write is privileged). */
  authority: Authority;
  /** Set for a directory token: the request works in that directory's partition only (ADR 0010). */
  directoryId?: string;
}

/**
 * A strategy looks at the bearer credential: `undefined` means "not mine, ask the next one"; a principal means
 * accepted; throwing (InvalidToken) means "mine, and invalid".
 */
export type ScimAuthStrategy = (request: FastifyRequest, credential: string) => Promise<ScimPrincipal | undefined>;

/** What the access-token strategy needs from oauth/tokens.ts (AccessTokens). */
export interface TokenChecks {
  /** Signature and claims (RFC 9068 §4); throws InvalidToken. */
  verify(tenant: Tenant, token: string): Promise<AccessTokenClaims>;
  /** Not revoked, client still there, user still active: checked on every request. */
  isActive(tenant: Tenant, claims: AccessTokenClaims): Promise<boolean>;
  /** The key that signed `token` still verifies (not revoked): a remembered signature check is only as good as it. */
  signedByLiveKey(tenant: Tenant, token: string): Promise<boolean>;
}

/**
 * JWT access tokens (RFC 9068) from this tenant's token endpoint. The signature check of a token is remembered for
 * up to 60 s (never past its exp), the same horizon as the signing-key cache; whether its key is still live and it is
 * still active (revocation, deleted client, deactivated user) is checked on every request.
 */
export function accessTokenStrategy(checks: TokenChecks, userAuthority: UserAuthority): ScimAuthStrategy {
  const verified = new Map<string, { claims: AccessTokenClaims; until: number }>();
  return async (request, credential) => {
    const tenant = request.tenant;
    // Our access tokens are JWTs (three dot-separated parts); anything else is left to other strategies.
    if (credential.split('.').length !== 3) return undefined;
    const key = `${tenant.id}:${credential}`;
    const now = Date.now();
    const hit = verified.get(key);
    let claims = hit && hit.until > now ? hit.claims : undefined;
    // A key revoked since the check (POST /api/keys/{kid}/revoke) fails the token here too, at once.
    if (claims && !(await checks.signedByLiveKey(tenant, credential))) throw new InvalidToken('The access token is not signed by this issuer.');
    if (!claims) {
      claims = await checks.verify(tenant, credential);
      if (verified.size >= 1000) verified.delete(verified.keys().next().value!);
      verified.set(key, { claims, until: Math.min(now + 60_000, claims.exp * 1000) });
    }
    if (!(await checks.isActive(tenant, claims))) throw new InvalidToken('The access token was revoked.');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(SCIM_AUDIENCE)) throw new InvalidToken('The access token is not meant for SCIM (audience "scim").');
    const isUser = tokenKind(claims) === 'user';
    // ADR 0009: the tenant-wide endpoint is never for an organization-scoped client (it cannot hold scim.* either).
    if (!isUser && claims.org_id) throw new InvalidToken('An organization-scoped token is not valid at the tenant-wide SCIM endpoint.');
    // Provisioning as a signed-in user needs an administrator: SCIM changes any user.
    const authority = isUser ? await userAuthority(tenant, claims.sub) : FULL_AUTHORITY;
    if (!authority.admin) throw new Forbidden('Your account does not have a role that allows provisioning.');
    return {
      authority,
      actorType: isUser ? 'user' : 'client',
      actorId: claims.sub,
      clientId: claims.client_id,
      scopes: claims.scope ? claims.scope.split(' ') : [],
      via: 'access_token',
    };
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    scimPrincipal: ScimPrincipal | null;
    /** The path of the SCIM mount this request reached (scimPlugin). */
    scimBasePath: string;
  }
  interface FastifyContextConfig {
    /** The scope a SCIM route needs; set on every authenticated SCIM route. */
    scimScope?: ScimScope;
  }
}

/**
 * The credential, or 401. RFC 6750 §3.1 would answer a malformed header `400 invalid_request`, but SCIM clients and
 * their validators treat every authentication failure as 401 (RFC 7644 §3.12: 401 "Authorization failure. The
 * authorization header is invalid or missing."), so here a header that is not `Bearer <token>` is `invalid_token`.
 */
function scimBearerToken(request: FastifyRequest): string {
  try {
    return bearerToken(request);
  } catch (e) {
    if (e instanceof InvalidRequest) throw new InvalidToken('The Authorization header must be "Bearer <access token>".');
    throw e;
  }
}

/** The onRequest hook: runs before the body is read, so unauthenticated callers cannot make us parse anything. */
export function scimAuthHook(strategies: readonly ScimAuthStrategy[]): onRequestAsyncHookHandler {
  return async function scimAuth(request) {
    const credential = scimBearerToken(request);
    let principal: ScimPrincipal | undefined;
    for (const strategy of strategies) {
      principal = await strategy(request, credential);
      if (principal) break;
    }
    if (!principal) throw new InvalidToken('The bearer token is not valid here.');
    request.scimPrincipal = principal;
    request.clientId = principal.clientId;
    // The platform's principal too, so actorOf() and the request log work as on /api.
    request.principal = { subject: principal.actorId, clientId: principal.clientId, scopes: [...principal.scopes], kind: principal.actorType === 'user' ? 'user' : 'client', authority: principal.authority, organizationId: principal.authority.organizationId ?? null };
    const needed = requiredScope(request);
    if (!principal.scopes.includes(needed)) throw Object.assign(new InsufficientScope(`This operation needs scope ${needed}.`), { requiredScope: needed });
  };
}

function requiredScope(request: FastifyRequest): ScimScope {
  return request.routeOptions.config.scimScope ?? SCIM_WRITE;
}

/** The audit actor of a SCIM request. */
export function scimActor(request: FastifyRequest): { type: ScimPrincipal['actorType']; id: string; ip: string; authority: Authority } {
  const p = request.scimPrincipal;
  if (!p) throw new Error('scimActor called on an unauthenticated request');
  return { type: p.actorType, id: p.actorId, ip: request.ip, authority: p.authority };
}
