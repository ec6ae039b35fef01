/** The wire format of `/api/organizations/{id}/invitations` (camelCase JSON). */
import { z } from 'zod';
import { organizationIdParams, organizationRole } from '../organizations/schemas.ts';
import { MAX_MEMBERSHIP_ROLES } from '../organizations/service.ts';
import { INVITATION_STATUSES } from './repository.ts';
import type { Invitation } from './service.ts';

export const DEFAULT_EXPIRY_DAYS = 7;
export const MIN_EXPIRY_DAYS = 1;
export const MAX_EXPIRY_DAYS = 30;

export const invitationParams = organizationIdParams.extend({ invitationId: z.uuid().describe('The invitation id returned when it was created.') });

export const invitationCreateBody = z
  .strictObject({
    email: z.email().max(320).describe('Where the invitation goes. The user with this address is invited, or created when the tenant has none.'),
    roles: z
      .array(organizationRole)
      .max(MAX_MEMBERSHIP_ROLES)
      .default([])
      .describe(`Organization roles the membership gets on acceptance (at most ${MAX_MEMBERSHIP_ROLES}).`),
    expiresInDays: z
      .number()
      .int()
      .min(MIN_EXPIRY_DAYS)
      .max(MAX_EXPIRY_DAYS)
      .default(DEFAULT_EXPIRY_DAYS)
      .describe(`How long the link works: ${MIN_EXPIRY_DAYS} to ${MAX_EXPIRY_DAYS} days (default ${DEFAULT_EXPIRY_DAYS}); a resend starts it again.`),
    send: z.boolean().default(true).describe('false: no email is sent and the response carries `acceptUrl` once, for you to deliver.'),
  })
  .meta({ examples: [{ email: 'ada@acme.example', roles: ['member'] }, { email: 'bob@acme.example', roles: ['admin'], expiresInDays: 14, send: false }] });

export const invitationListQuery = z.strictObject({
  status: z.enum(INVITATION_STATUSES).optional().describe('Only invitations in this state.'),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});

const iso = z.iso.datetime();
export const invitationResponse = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  userId: z.uuid().describe('The invited user (`/api/users`); created by the invitation when the address was new.'),
  email: z.string(),
  roles: z.array(z.string()),
  status: z.enum(INVITATION_STATUSES).describe('`pending` until accepted, `accepted`, `expired` (past `expiresAt`, may be resent) or `revoked`.'),
  expiresInDays: z.number().int(),
  expiresAt: iso,
  invitedBy: z.string().describe('The client or user that invited.'),
  sendCount: z.number().int().describe('Emails sent for this invitation so far.'),
  lastSentAt: iso.nullable(),
  acceptedAt: iso.nullable(),
  revokedAt: iso.nullable(),
  createdAt: iso,
  updatedAt: iso,
});
export const invitationCreatedResponse = invitationResponse.extend({
  acceptUrl: z.url().optional().describe('Only with `send: false`, and only in this response: the link to deliver yourself. It works once.'),
});
export const invitationPageResponse = z.object({ items: z.array(invitationResponse), nextCursor: z.string().nullable() });

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);
export function invitationToWire(i: Invitation): z.infer<typeof invitationResponse> {
  return {
    id: i.id,
    organizationId: i.organizationId!,
    userId: i.userId,
    email: i.email,
    roles: i.roles,
    status: i.status,
    expiresInDays: i.expiresInDays,
    expiresAt: i.expiresAt.toISOString(),
    invitedBy: i.invitedBy,
    sendCount: i.sendCount,
    lastSentAt: isoOrNull(i.lastSentAt),
    acceptedAt: isoOrNull(i.acceptedAt),
    revokedAt: isoOrNull(i.revokedAt),
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}
