/**
 * The organization a user's grant runs in (ADR 0009): requested with `organization_id` at /authorize, carried by the
 * authorization code and the refresh token, and re-read from the membership at every issuance (STYLE §9) so that
 * `org_roles` are today's roles and a removed membership ends the grant.
 */
import type { TenantScope } from '../platform/db.ts';
import { membershipOf } from '../organizations/service.ts';

export interface OrganizationContext {
  id: string;
  roles: string[];
}

/** The claims of an organization context: `org_id` and `org_roles`; none at all outside an organization. */
export function organizationClaims(org: OrganizationContext | null | undefined): { org_id?: string; org_roles?: string[] } {
  return org ? { org_id: org.id, org_roles: org.roles } : {};
}

/**
 * The user's current membership of `organizationId`: `null` when the grant has no organization, `undefined` when it
 * has one and the user is no longer a member (the caller refuses: `invalid_grant`, `access_denied`, `invalid_token`).
 */
export async function currentOrganization(scope: TenantScope, organizationId: string | null | undefined, userId: string): Promise<OrganizationContext | null | undefined> {
  if (!organizationId) return null;
  const membership = await membershipOf(scope, organizationId, userId);
  return membership ? { id: membership.organizationId, roles: membership.roles } : undefined;
}
