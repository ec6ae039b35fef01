/**
 * What a signed-in user changes about themselves (the account page, src/account): their name and their password.
 * The actor is the user, holding exactly their own authority: the "no more than you hold" rules of service.ts pass
 * for oneself and for nobody else.
 */
import type { TenantScope } from '../platform/db.ts';
import { Forbidden, Invalid, NotFound } from '../platform/errors/domain.ts';
import type { Actor } from '../audit/service.ts';
import { authorityOfUser, updateUser, type User } from './service.ts';
import { passwordProblem } from './password-policy.ts';
import { verifyPassword } from './password.ts';
import { usersRepository } from './repository.ts';

/** A wrong current password: the caller counts it against its abuse limit. */
export class WrongPassword extends Forbidden {}

export async function selfActor(scope: TenantScope, userId: string, ip: string): Promise<Actor> {
  return { type: 'user', id: userId, ip, authority: await authorityOfUser(scope, userId) };
}

export async function renameSelf(scope: TenantScope, userId: string, ip: string, displayName: string | null): Promise<User> {
  if (displayName !== null && (displayName.length > 200 || /[\u0000-\u001f\u007f]/.test(displayName))) throw new Invalid('Use at most 200 characters, without control characters.', { field: 'displayName' });
  return updateUser(scope, await selfActor(scope, userId, ip), userId, { displayName: displayName?.trim() || null });
}

/**
 * Changes the user's own password, given the current one, in `tx`. The change ends every session and token of the
 * user (users' `user.password_changed` subscribers): the caller opens a new session for this browser afterwards.
 */
export async function changeOwnPassword(tx: TenantScope, userId: string, ip: string, current: string, next: string): Promise<User> {
  const row = await usersRepository(tx).lockUser(userId);
  if (!row) throw new NotFound('No such user.');
  if (!row.passwordHash) throw new Invalid('This account has no password: it signs in through its identity provider.');
  if (current.length > 1024 || !(await verifyPassword(row.passwordHash, current))) throw new WrongPassword('The current password is not correct.');
  const problem = passwordProblem(next, { email: row.email });
  if (problem) throw new Invalid(problem, { field: 'password' });
  if (next === current) throw new Invalid('Choose a password other than the current one.', { field: 'password' });
  return updateUser(tx, await selfActor(tx, userId, ip), userId, { password: next });
}
