/**
 * The membership step of a sign-in that runs in an organization's context (ADR 0009): through an organization's SSO
 * connection, or through an upstream provider bound to an organization. It comes after admission (admission.ts),
 * which decided who the user is; this decides whether they get into the organization.
 * - A member goes on with the roles they have.
 * - A non-member joins when the source lets newcomers in (`mayJoin`): with the source's default roles, or, for an
 *   invitee (a pending membership), the roles they were invited with.
 * - Otherwise they are refused, and the caller refuses the sign-in.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Actor } from '../audit/service.ts';
import { membershipOf, pendingMembershipOf, setMembership } from '../organizations/service.ts';

export type MembershipOutcome = 'member' | 'joined' | 'refused';

export async function ensureMembership(
  scope: TenantScope,
  input: { organizationId: string; userId: string; mayJoin: boolean; defaultRoles: string[]; actor: Actor },
): Promise<MembershipOutcome> {
  if (await membershipOf(scope, input.organizationId, input.userId)) return 'member';
  if (!input.mayJoin) return 'refused';
  // An invitee who signs in through the organization's IdP before accepting keeps the roles they were invited with.
  const invited = await pendingMembershipOf(scope, input.organizationId, input.userId);
  await setMembership(scope, input.actor, input.organizationId, input.userId, invited?.roles ?? input.defaultRoles);
  return 'joined';
}
