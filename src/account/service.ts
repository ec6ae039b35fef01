/**
 * The account page's rules: what a signed-in user sees of their own account, and the changes they make to it. HTTP
 * free. Every change is the user's own, audited with the user as actor, and the security events reach the feed
 * (`session.ended`; a password change's `user.updated` and the sign-out of every session through users' subscribers).
 */
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { NotFound } from '../platform/errors/domain.ts';
import { recordAudit } from '../audit/service.ts';
import { findUserById, type User } from '../users/service.ts';
import { changeOwnPassword, renameSelf, selfActor } from '../users/self-service.ts';
import { listIdentities, unlinkIdentity, type IdentityKey } from '../users/identities-service.ts';
import type { IdentityRow } from '../users/identities.ts';
import { organizationsOfUser } from '../organizations/service.ts';
import { createSession, endSessionsOfUser, listSessions, type Session, type SessionClient, type SessionListing } from '../signin/sessions.ts';

export interface AccountOverview {
  user: User;
  organizations: { organizationId: string; displayName: string; roles: string[] }[];
  sessions: (SessionListing & { current: boolean })[];
  identities: IdentityRow[];
}

export async function accountOverview(scope: TenantScope, current: Session): Promise<AccountOverview> {
  const user = await findUserById(scope, current.userId);
  if (!user) throw new NotFound('No such user.');
  const [organizations, sessions, identities] = await Promise.all([organizationsOfUser(scope, user.id), listSessions(scope, user.id), listIdentities(scope, user.id)]);
  return { user, organizations, sessions: sessions.map((s) => ({ ...s, current: s.sid === current.sid })), identities };
}

export async function renameAccount(scope: TenantScope, current: Session, ip: string, displayName: string): Promise<User> {
  return renameSelf(scope, current.userId, ip, displayName.trim() || null);
}

/** Ends one of the user's sessions by its public sid (this one included: that is signing out). The count ended. */
export async function endOneSession(scope: TenantScope, current: Session, ip: string, sid: string): Promise<number> {
  return scope.transaction(async (tx) => {
    const ended = await endSessionsOfUser(tx, current.userId, { sid });
    if (ended.length) await recordAudit(tx, { type: 'user', id: current.userId, ip }, { action: 'session.end', targetType: 'user', targetId: current.userId, after: { sids: ended.map((s) => s.sid) } });
    return ended.length;
  });
}

/** Ends every session of the user but this one. The count ended. */
export async function endOtherSessions(scope: TenantScope, current: Session, ip: string): Promise<number> {
  return scope.transaction(async (tx) => {
    const ended = await endSessionsOfUser(tx, current.userId, { allBut: current.sid });
    if (ended.length) await recordAudit(tx, { type: 'user', id: current.userId, ip }, { action: 'session.end', targetType: 'user', targetId: current.userId, after: { sids: ended.map((s) => s.sid), allOthers: true } });
    return ended.length;
  });
}

/** Unlinks one of the user's identities; never their last way to sign in (409). */
export async function unlinkOwnIdentity(scope: TenantScope, current: Session, ip: string, key: IdentityKey): Promise<void> {
  await unlinkIdentity(scope, await selfActor(scope, current.userId, ip), current.userId, key, { keepAWayIn: true });
}

/**
 * Changes the password, given the current one. Every session and token of the user ends with it (whoever knew the
 * old password keeps nothing); this browser continues in a new session, returned as its cookie.
 */
export async function changePassword(scope: TenantScope, keyring: Keyring, current: Session, client: SessionClient, oldPassword: string, newPassword: string): Promise<{ cookie: string }> {
  return scope.transaction(async (tx) => {
    await changeOwnPassword(tx, current.userId, client.ip, oldPassword, newPassword);
    await recordAudit(tx, { type: 'user', id: current.userId, ip: client.ip }, { action: 'user.password.change', targetType: 'user', targetId: current.userId, after: { by: 'self', previousSid: current.sid } });
    const { cookie } = await createSession(tx, keyring, current.userId, 'pwd', client);
    return { cookie };
  });
}
