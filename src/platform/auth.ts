/**
 * Bearer token protection for resource routes, RFC 6750, https://www.rfc-editor.org/rfc/rfc6750
 * A route states the audience and scope it needs; the token must be ours (this tenant's issuer and keys), unexpired,
 * for that audience, and carry that scope.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { InsufficientScope, InvalidRequest, InvalidToken, MissingToken } from './errors/oauth.ts';
import { Forbidden, NotFound } from './errors/domain.ts';
import type { Tenant } from './tenancy/tenant.ts';
import { organizationAuthority, satisfies, type Authority, type RoutePermission } from './permissions.ts';

/** Whose token it is, as recorded at issuance (`gty`), never inferred from `sub` (oauth/tokens.ts `tokenKind`). */
export type PrincipalKind = 'client' | 'user';

export interface Principal {
  /** `sub`: a client id for machine tokens, a user id for user tokens. */
  subject: string;
  clientId: string;
  scopes: string[];
  kind: PrincipalKind;
  /** What the principal holds, and so the most it may grant (platform/permissions.ts). */
  authority: Authority;
  /** The one organization an organization-scoped machine client may see (`org_id`, ADR 0009); null otherwise. */
  organizationId: string | null;
}

export interface AccessTokenVerifier {
  /** Signature, claims, and still active (not revoked, client exists, user active); the token's kind. */
  verifyActive(tenant: Tenant, token: string): Promise<{ sub: string; client_id: string; scope: string; aud: string | string[]; kind: PrincipalKind; org_id?: string | undefined }>;
}

/** The authority of a user token's subject: their roles' permissions (none when inactive or unknown). */
export type UserAuthority = (tenant: Tenant, userId: string) => Promise<Authority>;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The OAuth client behind the request, for the request log. */
    clientId: string | null;
  }
}

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; the other two methods of §2 are not offered. */
export function bearerToken(request: FastifyRequest): string {
  const h = request.headers.authorization;
  if (!h) throw new MissingToken('An access token is required.');
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(h);
  if (!m) throw new InvalidRequest('The Authorization header is not a Bearer token.');
  return m[1]!;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a user token needs for this management route; every `/api` route declares one (app.ts enforces it). */
    permission?: RoutePermission;
    /**
     * How the route treats an organization-scoped principal (ADR 0009). By default a route with an `:organizationId`
     * path parameter answers for the principal's own organization only (404 for any other), and any other route
     * refuses it (403). `filters`: the handler limits what it returns itself (`confinedOrganization`,
     * `assertOrganizationVisible`). `deny`: refused even for its own organization.
     */
    organization?: 'filters' | 'deny';
  }
}

const NO_ORGANIZATION = 'No organization with this id in this tenant.';

/** The organization an organization-scoped principal is confined to; undefined for everyone else (ADR 0009). */
export function confinedOrganization(request: FastifyRequest): string | undefined {
  return request.principal?.organizationId ?? undefined;
}

/**
 * For routes that reach an organization other than by an `:organizationId` path parameter: 404, exactly as for an
 * unknown organization, when the principal is confined to another one.
 */
export function assertOrganizationVisible(request: FastifyRequest, organizationId: string, notFound = NO_ORGANIZATION): void {
  const own = confinedOrganization(request);
  if (own !== undefined && own !== organizationId) throw new NotFound(notFound);
}

/** The confinement of an organization-scoped principal to `organizationId`, per the route's declaration. */
function confine(request: FastifyRequest, organizationId: string): void {
  const mode = request.routeOptions.config.organization;
  if (mode === 'deny') throw new Forbidden('An organization-scoped client cannot do this.');
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (Object.hasOwn(params, 'organizationId')) {
    // Exact string comparison: any other spelling of an id is another organization (fail closed).
    if (params.organizationId !== organizationId) throw new NotFound(NO_ORGANIZATION);
    return;
  }
  if (mode !== 'filters') throw new Forbidden('This operation is not available to an organization-scoped client.');
}

/**
 * The bearer check of a resource API. Machine tokens are authorized by the API's scope alone, which makes a machine
 * token with that scope admin-equivalent (`machineAuthority`); a user token additionally needs the route's declared
 * permission from the user's current roles (read on every request, so a removed role ends access at once).
 */
export function requireScope(
  verifier: AccessTokenVerifier,
  opts: {
    audience: string;
    scope: string;
    machineAuthority: Authority;
    userAuthority: UserAuthority;
    /** The scope an organization-scoped machine token needs instead of `scope` (ADR 0009); without it none passes. */
    organizationScope?: string;
  },
): onRequestAsyncHookHandler {
  return async function requireScopeHook(request) {
    const claims = await verifier.verifyActive(request.tenant, bearerToken(request));
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(opts.audience)) throw new InvalidToken('The access token is not meant for this API.');
    const scopes = claims.scope ? claims.scope.split(' ') : [];
    request.clientId = claims.client_id;
    // ADR 0009: a machine token with `org_id` is confined to that organization, whatever else it carries.
    const organizationId = claims.kind === 'client' && claims.org_id ? claims.org_id : null;
    const required = organizationId && opts.organizationScope ? opts.organizationScope : opts.scope;
    if (!scopes.includes(required)) throw Object.assign(new InsufficientScope(`This operation needs scope ${required}.`), { requiredScope: required });
    const authority = organizationId ? organizationAuthority(organizationId) : claims.kind === 'client' ? opts.machineAuthority : await opts.userAuthority(request.tenant, claims.sub);
    request.principal = { subject: claims.sub, clientId: claims.client_id, scopes, kind: claims.kind, authority, organizationId };
    if (organizationId) confine(request, organizationId);
    // Fail closed: a route that declares nothing is for administrators only.
    if (!satisfies(authority, request.routeOptions.config.permission ?? 'admin')) throw new Forbidden('Your account does not have a role that allows this.');
  };
}

/** The audit actor behind an authenticated request (a machine client, or a user signed in through a client), with its authority. */
export function actorOf(request: FastifyRequest): { type: PrincipalKind; id: string; ip: string; authority: Authority } {
  const p = request.principal;
  if (!p) throw new Error('actorOf called on an unauthenticated request');
  return { type: p.kind, id: p.subject, ip: request.ip, authority: p.authority };
}
