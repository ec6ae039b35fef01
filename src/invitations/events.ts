/**
 * Invitations' feed events (src/events/catalog.ts): the invitation as `/api/organizations/{id}/invitations` shows it,
 * never its link. A tenant invitation (SCIM's `sendInvitation`, src/scim/invitations.ts) has no organization.
 */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { invitationResponse, invitationToWire } from './schemas.ts';
import type { Invitation } from './service.ts';

const invitationEvent = invitationResponse.extend({ organizationId: z.uuid().nullable().describe('null for a tenant invitation (SCIM `sendInvitation`).') });
type InvitationWire = z.infer<typeof invitationEvent>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'invitation.created': InvitationWire;
    'invitation.resent': InvitationWire;
    'invitation.revoked': InvitationWire;
    'invitation.accepted': InvitationWire;
  }
}

defineFeedEvents({
  'invitation.created': { schema: invitationEvent, description: 'A user was invited (by email, or with a link the caller delivers: `sendCount` 0).' },
  'invitation.resent': { schema: invitationEvent, description: 'An invitation was sent again with a new link and expiry; earlier links stopped working.' },
  'invitation.revoked': { schema: invitationEvent, description: 'An invitation was revoked; its pending membership went with it.' },
  'invitation.accepted': { schema: invitationEvent, description: 'The invitee followed the link: the membership is active (`membership.updated` is not sent for it).' },
});

export const invitationData = (i: Invitation): InvitationWire => ({ ...invitationToWire(i), organizationId: i.organizationId });
