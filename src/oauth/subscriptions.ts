/**
 * How the authorization server reacts to other capabilities' changes, in their transactions (src/events): what a
 * user or client loses when it changes, it loses in the same commit.
 */
import { subscribe } from '../events/in-transaction.ts';
import { revokeEverythingOfClient, revokeEverythingOfUser } from './revocation.ts';

// Sessions end and refresh tokens die; access tokens fail `isActive` (inactive user, or `iat` before the cutoff).
subscribe('user.deactivated', (tx, e) => revokeEverythingOfUser(tx, e.userId));
subscribe('user.deleted', (tx, e) => revokeEverythingOfUser(tx, e.data.id));
subscribe('session.revoked', (tx, e) => revokeEverythingOfUser(tx, e.data.userId));
// There is no self-service password change yet, so a change by an administrator or SCIM ends every session.
subscribe('user.password_changed', (tx, e) => revokeEverythingOfUser(tx, e.userId));
// Access tokens of a deleted client fail `isActive` (no client, or a re-created one with another instance id).
subscribe('client.deleted', (tx, e) => revokeEverythingOfClient(tx, e.data.clientId));
