/**
 * The end-user as the authorization server sees it: who the `sub` of a token is, whether they may still have
 * tokens (active), and the claims OpenID Connect Core §5.1 releases per scope (§5.4).
 */
import { and, eq } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { userRoles, users } from '../db/schema/index.ts';

export interface Subject {
  id: string;
  userName: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
  roles: string[];
}

export async function findSubject(scope: TenantScope, userId: string): Promise<Subject | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(userId)) return undefined;
  const [u] = await scope.select(users, eq(users.id, userId));
  if (!u) return undefined;
  const roles = await scope.select(userRoles, and(eq(userRoles.userId, userId)));
  return {
    id: u.id,
    userName: u.userName,
    email: u.email,
    emailVerified: u.emailVerified,
    displayName: u.displayName,
    givenName: u.givenName,
    familyName: u.familyName,
    active: u.active,
    roles: roles.map((r) => r.roleName).sort(),
  };
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
