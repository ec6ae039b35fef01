/** How upstream providers react to other capabilities' changes, in their transactions (src/events). */
import { subscribe } from '../events/in-transaction.ts';
import { Conflict } from '../platform/errors/domain.ts';
import { upstreamRepository } from './repository.ts';
import { deleteProvidersOfOrganization } from './service.ts';

// A role that a provider gives new users (`defaultUserRoles`) cannot disappear under it.
subscribe('role.deleting', async (tx, e) => {
  const providers = await upstreamRepository(tx).providersAssigningRole(e.role);
  if (providers.length) {
    const names = providers.map((p) => `${p.type}/${p.id}`);
    throw new Conflict(`The role is a default role of upstream provider(s) ${names.join(', ')}. Remove it there first.`, { reason: 'in-use', providers: names });
  }
});

// Providers bound to an organization go with it (the foreign key refuses the deletion otherwise), audited as the
// organization's deletion is: by its actor (ADR 0009, as downstream/subscriptions.ts does for its machine clients).
subscribe('organization.deleted', (tx, e) => deleteProvidersOfOrganization(tx, e.actor ?? { type: 'system', id: 'organization.deleted' }, e.data.id));
