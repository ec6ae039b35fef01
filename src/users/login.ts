/**
 * Local password sign-in: one generic failure for a wrong password, an unknown user, a user without a password or a
 * deactivated user, and the same work in each case (a dummy verification when there is no hash), so neither the
 * answer nor its timing tells whether an account exists. It lives with users, who own the hashes (argon2id);
 * the sign-in pages (src/signin) call it.
 *
 * Which user the typed identifier names is decided deterministically (issue #9), never by an arbitrary row: the user
 * whose userName has its key (users/identifiers.ts), else the one user whose email has it. When several users share
 * the email, none is chosen: they sign in with their userName. (A userName never equals another user's email, so the
 * first rule cannot shadow somebody else's address.)
 */
import type { TenantScope } from '../platform/db.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { loginKey } from './identifiers.ts';
import { usersRepository, type UserRow } from './repository.ts';

let dummyHash: Promise<string> | undefined;

/** The user the sign-in identifier names, if exactly one. */
export async function resolveLogin(scope: TenantScope, login: string): Promise<UserRow | undefined> {
  if (login.length > 320) return undefined;
  const key = loginKey(login);
  if (key === undefined) return undefined;
  const repo = usersRepository(scope);
  // Both lookups always run, so the time taken does not tell a userName from an email.
  const [byName, byEmail] = await Promise.all([repo.findByUserNameKey(key), repo.listByEmailKey(key, 2)]);
  if (byName) return byName;
  return byEmail.length === 1 ? byEmail[0] : undefined;
}

export async function verifyPasswordLogin(scope: TenantScope, login: string, password: string): Promise<{ id: string } | undefined> {
  if (password.length > 1024) return undefined;
  const user = await resolveLogin(scope, login);
  const hash = user?.passwordHash ?? (await (dummyHash ??= hashPassword('not-a-real-password-0123456789')));
  const ok = await verifyPassword(hash, password);
  if (!user || !user.passwordHash || !ok || !user.active) return undefined;
  return { id: user.id };
}
