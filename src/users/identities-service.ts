/**
 * Linked upstream identities: the (provider, subject) pairs that sign a user in. Administrators list and unlink
 * them on `/api/users/{id}/identities`; the user does on `/account`, where the last way in cannot be removed.
 */
import type { TenantScope } from '../platform/db.ts';
import { Conflict, NotFound } from '../platform/errors/domain.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { identitiesRepository, type IdentityRow } from './identities.ts';
import { usersRepository } from './repository.ts';

export interface IdentityKey {
  providerType: string;
  providerId: string;
  subject: string;
}

export async function listIdentities(scope: TenantScope, userId: string): Promise<IdentityRow[]> {
  return identitiesRepository(scope).listForUser(userId);
}

/**
 * Unlinks one identity, audited. `keepAWayIn`: refuse (409) when it is the user's last way to sign in (no password,
 * no other identity); the user row is locked, so two concurrent unlinks cannot remove the last two.
 */
export async function unlinkIdentity(scope: TenantScope, actor: Actor, userId: string, key: IdentityKey, opts: { keepAWayIn?: boolean } = {}): Promise<IdentityRow> {
  return scope.transaction(async (tx) => {
    const user = await usersRepository(tx).lockUser(userId);
    if (!user) throw new NotFound('No such user.');
    const identities = identitiesRepository(tx);
    if (opts.keepAWayIn && !user.passwordHash && (await identities.listForUser(userId)).length <= 1) {
      throw new Conflict('This is the only way to sign in to this account: set a password or link another identity first.');
    }
    const removed = await identities.unlink(userId, key.providerType, key.providerId, key.subject);
    if (!removed) throw new NotFound('No such linked identity.');
    await recordAudit(tx, actor, { action: 'user.identity.unlink', targetType: 'user', targetId: userId, before: { providerType: removed.providerType, providerId: removed.providerId, subject: removed.subject, email: removed.email } });
    return removed;
  });
}
