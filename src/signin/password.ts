/**
 * Local password sign-in: one generic failure for a wrong password, an unknown user, a user without a password or a
 * deactivated user, and the same work in each case (a dummy verification when there is no hash), so neither the
 * answer nor its timing tells whether an account exists. Hashing itself is the users capability's (argon2id).
 */
import { or, sql } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { users } from '../db/schema/index.ts';
import { hashPassword, verifyPassword } from '../users/password.ts';

let dummyHash: Promise<string> | undefined;

export async function verifyPasswordLogin(scope: TenantScope, login: string, password: string): Promise<{ id: string } | undefined> {
  const normalized = login.trim().toLowerCase();
  if (!normalized || normalized.length > 320 || password.length > 1024) return undefined;
  const [user] = await scope.select(users, or(sql`lower(${users.email}) = ${normalized}`, sql`lower(${users.userName}) = ${normalized}`)).limit(1);
  const hash = user?.passwordHash ?? (await (dummyHash ??= hashPassword('not-a-real-password-0123456789')));
  const ok = await verifyPassword(hash, password);
  if (!user || !user.passwordHash || !ok || !user.active) return undefined;
  return { id: user.id };
}
