/**
 * The invitation hook: STACKIT's notifications extension (`urn:schwarz:params:scim:schemas:extension:notifications:2.0:User`,
 * `sendInvitation: true` on create) asks for an invitation email. The request is recorded as a row of
 * `invitation_requests`, in the transaction that creates the user, and the invitation is sent through the same path
 * as an organization's (src/invitations `inviteToTenant`, the mail queue): the row is `sent` once the email is queued,
 * `failed` when the user has no email address to send to, and stays `pending` where no sender is wired.
 */
import { eq } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { invitationRequests } from '../db/schema/index.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import type { User } from '../users/service.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';

/** Queues the invitation email for `user` in `tx`; false when there is nowhere to send it. */
export type InvitationSender = (tx: TenantScope, actor: Actor, user: User) => Promise<boolean>;

/** What the plugin is given: a sender for the request's tenant. */
export type ScimInviter = (tx: TenantScope, actor: Actor, tenant: Tenant, user: User) => Promise<boolean>;

export async function requestInvitation(tx: TenantScope, actor: Actor, user: User, source: string, send?: InvitationSender): Promise<string> {
  const [row] = await tx.insert(invitationRequests, { userId: user.id, source }).returning({ id: invitationRequests.id });
  await recordAudit(tx, actor, { action: 'invitation.request', targetType: 'user', targetId: user.id, after: { source, invitationRequestId: row!.id } });
  if (send) {
    const queued = await send(tx, actor, user);
    await tx.update(invitationRequests, { status: queued ? 'sent' : 'failed' }, eq(invitationRequests.id, row!.id));
  }
  return row!.id;
}

/** The sender for one request's tenant, or undefined when no inviter is wired. */
export function inviterFor(invite: ScimInviter | undefined, tenant: Tenant): InvitationSender | undefined {
  return invite ? (tx, actor, user) => invite(tx, actor, tenant, user) : undefined;
}
