/**
 * How directories react to changes of their own records (src/events/in-transaction.ts): a directory user created,
 * changed, deactivated or deleted through the directory's SCIM endpoint, or a group's members changed, updates the
 * organization membership it provisions, in the same transaction. Changes outside a directory's partition
 * (`tx.directoryId` null) are not theirs and cost one comparison.
 */
import { subscribe } from '../events/in-transaction.ts';
import { memberDeleted, provisioningDirectory, recomputeMembers, syncMember } from './service.ts';
import { publishGroupRecord, publishMembershipRecords, publishUserRecord } from './record-events.ts';

subscribe('user.changed', async (tx, event) => {
  const directory = await provisioningDirectory(tx);
  if (directory) await syncMember(tx, directory, event.userId);
});

subscribe('user.deleted', async (tx, event) => {
  // Written before the row goes (users/service.ts publishes before deleting): the record as it was.
  await publishUserRecord(tx, 'organization.directory.user_deleted', event.data.id);
  const directory = await provisioningDirectory(tx);
  if (directory) await memberDeleted(tx, directory, event.data.id);
});

subscribe('group.members_changed', async (tx, event) => {
  const directory = await provisioningDirectory(tx);
  if (directory) await recomputeMembers(tx, directory, [...event.added, ...event.removed].map((m) => m.id));
  if (!event.groupDeleted) await publishMembershipRecords(tx, event.groupId, event.added, event.removed);
});

// The feed's view of a directory's records (record-events.ts); nothing happens outside a directory's partition.
subscribe('user.created', (tx, event) => publishUserRecord(tx, 'organization.directory.user_created', event.data.id));
subscribe('user.updated', (tx, event) => publishUserRecord(tx, 'organization.directory.user_updated', event.data.id, event.previousAttributes));
subscribe('group.created', (tx, event) => publishGroupRecord(tx, 'organization.directory.group_created', event.data.id));
subscribe('group.updated', (tx, event) => publishGroupRecord(tx, 'organization.directory.group_updated', event.data.id, event.previousAttributes));
subscribe('group.deleted', (tx, event) => publishGroupRecord(tx, 'organization.directory.group_deleted', event.data.id));
