/** Helpers the SCIM route files share: the base URL of this tenant's SCIM service, and If-None-Match (RFC 7644 §3.14). */
import type { FastifyRequest } from 'fastify';
import { weakEtag } from '../../users/etag.ts';

export const SCIM_PREFIX = '/scim/v2';

/** Absolute base for `meta.location` and `$ref`: the tenant's issuer URL + /scim/v2. */
export function scimBase(request: FastifyRequest): string {
  return `${request.tenant.issuer.replace(/\/$/, '')}${SCIM_PREFIX}`;
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
