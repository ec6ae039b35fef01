/**
 * How downstream clients react to other capabilities' changes, in their transactions (src/events): an organization's
 * machine clients are deleted with it, so their tokens stop at once on every instance (ADR 0009).
 */
import { subscribe } from '../events/in-transaction.ts';
import { deleteClientsOfOrganization } from './service.ts';

// The actor of the organization's deletion is audited as the actor of its clients' deletion too.
subscribe('organization.deleted', (tx, e) => deleteClientsOfOrganization(tx, e.actor ?? { type: 'system', id: 'organization.deleted' }, e.data.id));
