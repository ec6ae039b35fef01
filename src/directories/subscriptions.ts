/**
 * How directories react to changes of their own records (src/events/in-transaction.ts): a directory user created,
 * changed, deactivated or deleted through the directory's SCIM endpoint, or a group's members changed, updates the
 * organization membership it provisions, in the same transaction. Changes outside a directory's partition
 * (`tx.directoryId` null) are not theirs and cost one comparison.
 */
import { subscribe } from '../events/in-transaction.ts';
import { memberDeleted, provisioningDirectory, recomputeMembers, syncMember } from './service.ts';

subscribe('user.changed', async (tx, event) => {
  const directory = await provisioningDirectory(tx);
  if (directory) await syncMember(tx, directory, event.userId);
});

subscribe('user.deleted', async (tx, event) => {
  const directory = await provisioningDirectory(tx);
  if (directory) await memberDeleted(tx, directory, event.data.id);
});

subscribe('group.members_changed', async (tx, event) => {
  const directory = await provisioningDirectory(tx);
  if (directory) await recomputeMembers(tx, directory, event.memberIds);
});
