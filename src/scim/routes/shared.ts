/**
 * Helpers the SCIM route files share: the scope and base URL of the SCIM service a request reached (the tenant's
 * own, or one directory's: ADR 0010), and If-None-Match (RFC 7644 §3.14).
 */
import type { FastifyRequest } from 'fastify';
import type { TenantScope } from '../../platform/db.ts';
import { weakEtag } from '../../users/etag.ts';

export const SCIM_PREFIX = '/scim/v2';

/** What each SCIM route needs of the mount it is served from. */
export interface ScimScopes {
  /** The scope a request works in: the tenant's own users and groups, or one directory's partition. */
  scopeOf(request: FastifyRequest): TenantScope;
}

/** Absolute base for `meta.location` and `$ref`: the tenant's issuer URL + this mount's path (scimPlugin sets it). */
export function scimBase(request: FastifyRequest): string {
  return `${request.tenant.issuer.replace(/\/$/, '')}${request.scimBasePath || SCIM_PREFIX}`;
}

/**
 * RFC 9110 §13.1.2 with weak comparison (If-None-Match always compares weakly): true when the header names the
 * current version or is `*`.
 */
export function notModified(request: FastifyRequest, version: number): boolean {
  const h = request.headers['if-none-match'];
  if (typeof h !== 'string') return false;
  if (h.trim() === '*') return true;
  const current = weakEtag(version).slice(2);
  return h.split(',').some((t) => t.trim().replace(/^W\//, '') === current);
}
