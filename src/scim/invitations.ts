/**
 * The invitation hook: STACKIT's notifications extension (`urn:schwarz:params:scim:schemas:extension:notifications:2.0:User`,
 * `sendInvitation: true` on create) asks for an invitation email. Until invitation delivery exists, the request is
 * recorded as a `pending` row of `invitation_requests`, in the transaction that creates the user; the delivery job
 * (invitations issue) will send pending rows and mark them `sent` or `failed`. This is the one place to change.
 */
import type { TenantScope } from '../platform/db.ts';
import { invitationRequests } from '../db/schema/index.ts';
import { recordAudit, type Actor } from '../audit/service.ts';

export async function requestInvitation(tx: TenantScope, actor: Actor, userId: string, source: string): Promise<string> {
  const [row] = await tx.insert(invitationRequests, { userId, source }).returning({ id: invitationRequests.id });
  await recordAudit(tx, actor, { action: 'invitation.request', targetType: 'user', targetId: userId, after: { source, invitationRequestId: row!.id } });
  return row!.id;
}
