/**
 * The end-user as the authorization server sees it: who the `sub` of a token is, whether they may still have
 * tokens (active), and the claims OpenID Connect Core §5.1 releases per scope (§5.4).
 */
import type { TenantScope } from '../platform/db.ts';
import { findUserById, type User } from '../users/service.ts';

/** The user behind a token's `sub`: the users capability's own view. */
export type Subject = User;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A `sub` that is not a user id (e.g. a machine client's) finds nobody, rather than failing the query. */
export async function findSubject(scope: TenantScope, userId: string): Promise<Subject | undefined> {
  return UUID.test(userId) ? findUserById(scope, userId) : undefined;
}

/** OIDC Core §5.4: `profile` and `email` select standard claims; roles and tenant are ours and always present. */
export function claimsFor(subject: Subject, scopes: string[], tenantId: string): Record<string, unknown> {
  const claims: Record<string, unknown> = { tid: tenantId, roles: subject.roles };
  if (scopes.includes('profile')) {
    claims.name = subject.displayName ?? ([subject.givenName, subject.familyName].filter(Boolean).join(' ') || undefined);
    claims.given_name = subject.givenName ?? undefined;
    claims.family_name = subject.familyName ?? undefined;
    claims.preferred_username = subject.userName;
  }
  if (scopes.includes('email') && subject.email) {
    claims.email = subject.email;
    claims.email_verified = subject.emailVerified;
  }
  return Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
}
