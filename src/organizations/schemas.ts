/** The wire format of `/api/organizations` (camelCase JSON). Types come from these schemas; nothing is declared twice. */
import { z } from 'zod';
import { DOMAIN_STATUSES, DOMAIN_VERIFICATION_METHODS, MEMBERSHIP_STATUSES } from '../db/schema/index.ts';
import type { OrganizationDomain } from './domains.ts';
import { MAX_MEMBERSHIP_ROLES, METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH } from './limits.ts';
import type { Membership, Organization } from './service.ts';

const displayName = z.string().trim().min(1).max(256).describe('The name shown to people, e.g. "Acme Corporation".');
const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'lowercase letters, digits and inner dashes, at most 64 characters')
  .describe('A short URL-safe name, unique in the tenant.');
const externalId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .describe('The id of this organization in your own system (at most 128 printable ASCII characters), unique in the tenant.');
const metadataKey = z.string().min(1).max(METADATA_MAX_KEY_LENGTH);
const metadataValue = z.string().max(METADATA_MAX_VALUE_LENGTH);
const metadataDescription = `String values under at most ${METADATA_MAX_KEYS} keys (keys 1 to ${METADATA_MAX_KEY_LENGTH} characters, values at most ${METADATA_MAX_VALUE_LENGTH}).`;
const metadata = z
  .record(metadataKey, metadataValue)
  .refine((m) => Object.keys(m).length <= METADATA_MAX_KEYS, `at most ${METADATA_MAX_KEYS} keys`)
  .describe(metadataDescription);

export const organizationIdParams = z.strictObject({ organizationId: z.uuid().describe('The organization id returned when it was created.') });
export const externalIdParams = z.strictObject({ externalId });
export const memberParams = organizationIdParams.extend({ userId: z.uuid().describe('The user id (`/api/users`).') });
export const domainParams = organizationIdParams.extend({ domainId: z.uuid().describe('The domain id returned when it was added.') });

export const organizationCreateBody = z
  .strictObject({ displayName, slug: slug.nullable().optional(), externalId: externalId.nullable().optional(), metadata: metadata.optional() })
  .meta({ examples: [{ displayName: 'Acme Corporation', slug: 'acme', externalId: 'crm-4711', metadata: { plan: 'enterprise' } }] });

export const organizationPatchBody = z
  .strictObject({
    displayName: displayName.optional(),
    slug: slug.nullable().optional().describe('null removes it.'),
    externalId: externalId.nullable().optional().describe('null removes it.'),
    metadata: z
      .record(metadataKey, metadataValue.nullable())
      .optional()
      .describe(`Merged into the stored metadata: a key set to null is removed. ${metadataDescription}`),
  })
  .meta({ examples: [{ displayName: 'Acme Inc.' }, { metadata: { plan: 'business', legacyId: null } }] });

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});

export const organizationResponse = z.object({
  id: z.uuid(),
  displayName: z.string(),
  slug: z.string().nullable(),
  externalId: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const organizationPageResponse = z.object({
  items: z.array(organizationResponse),
  nextCursor: z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page.'),
});

export function organizationToWire(o: Organization): z.infer<typeof organizationResponse> {
  return { ...o, createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString() };
}

export const organizationRole = z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'lowercase letters, digits, ".", "_", ":" and "-", at most 64 characters');

export const membershipBody = z
  .strictObject({
    roles: z
      .array(organizationRole)
      .max(MAX_MEMBERSHIP_ROLES)
      .default([])
      .describe(`Organization roles of this member (free-form names, at most ${MAX_MEMBERSHIP_ROLES}); replaces the current list.`),
  })
  .meta({ examples: [{ roles: ['admin'] }, { roles: ['member', 'billing'] }] });

export const membershipResponse = z.object({
  organizationId: z.uuid(),
  userId: z.uuid(),
  roles: z.array(z.string()),
  status: z.enum(MEMBERSHIP_STATUSES).describe('`pending`: invited and not yet accepted (no organization claims until `active`); `active` otherwise.'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const membershipPageResponse = z.object({ items: z.array(membershipResponse), nextCursor: z.string().nullable() });

export function membershipToWire(m: Membership): z.infer<typeof membershipResponse> {
  return { ...m, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString() };
}

export const domainCreateBody = z
  .strictObject({
    domain: z
      .string()
      .min(1)
      .max(300)
      .describe('A domain the organization owns, e.g. `acme.com` or `bücher.de` (stored as punycode). Not an IP address or a public suffix such as `com` or `co.uk`.'),
  })
  .meta({ examples: [{ domain: 'acme.com' }] });

const iso = z.iso.datetime();
export const domainResponse = z.object({
  id: z.uuid(),
  organizationId: z.uuid(),
  domain: z.string().describe('Canonical: lowercase ASCII (punycode), no trailing dot.'),
  status: z.enum(DOMAIN_STATUSES).describe('`pending` until proven, `verified`, or `failed` when the window ended unproven.'),
  verificationMethod: z.enum(DOMAIN_VERIFICATION_METHODS).nullable().describe('How it was verified: `dns` (TXT record) or `manual` (an admin).'),
  txtRecord: z
    .object({ type: z.literal('TXT'), name: z.string(), value: z.string() })
    .describe('Publish this TXT record at your DNS provider to prove ownership.'),
  attempts: z.number().int().describe('DNS checks made so far.'),
  lastCheckedAt: iso.nullable(),
  lastError: z.string().nullable().describe('Why the last check did not verify the domain.'),
  nextCheckAt: iso.nullable().describe('When the service looks again (pending only).'),
  expiresAt: iso.describe('End of the verification window: still unproven then, the domain fails.'),
  verifiedAt: iso.nullable(),
  failedAt: iso.nullable(),
  createdAt: iso,
  updatedAt: iso,
});
export const domainListResponse = z.object({ items: z.array(domainResponse) });

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);
export function domainToWire(d: OrganizationDomain): z.infer<typeof domainResponse> {
  return {
    ...d,
    txtRecord: { type: 'TXT', ...d.txtRecord },
    lastCheckedAt: isoOrNull(d.lastCheckedAt),
    nextCheckAt: isoOrNull(d.nextCheckAt),
    expiresAt: d.expiresAt.toISOString(),
    verifiedAt: isoOrNull(d.verifiedAt),
    failedAt: isoOrNull(d.failedAt),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}
