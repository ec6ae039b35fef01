/**
 * Organizations' feed events (src/events/catalog.ts): organizations, memberships and domains as
 * `/api/organizations` shows them. Every one carries its `organizationId`, so organization-scoped readers see them.
 */
import type { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { domainResponse, domainToWire, membershipResponse, membershipToWire, organizationResponse, organizationToWire } from './schemas.ts';
import type { Membership, Organization } from './service.ts';
import type { OrganizationDomain } from './domains.ts';

type OrganizationWire = z.infer<typeof organizationResponse>;
type MembershipWire = z.infer<typeof membershipResponse>;
type DomainWire = z.infer<typeof domainResponse>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'organization.created': OrganizationWire;
    'organization.updated': OrganizationWire;
    'organization.deleted': OrganizationWire;
    'membership.created': MembershipWire;
    'membership.updated': MembershipWire;
    'membership.deleted': MembershipWire;
    'domain.created': DomainWire;
    'domain.verified': DomainWire;
    'domain.verification_failed': DomainWire;
    'domain.deleted': DomainWire;
  }
}

defineFeedEvents({
  'organization.created': { schema: organizationResponse, description: 'An organization was created.' },
  'organization.updated': { schema: organizationResponse, description: 'An organization changed; `previousAttributes` holds the changed fields before.' },
  'organization.deleted': { schema: organizationResponse, description: 'An organization was deleted with its memberships, domains, connections, organization-scoped clients and the upstream providers bound to it (of these, only clients have an event of their own).' },
  'membership.created': { schema: membershipResponse, description: 'A user became a member of an organization.' },
  'membership.updated': { schema: membershipResponse, description: 'A member\'s organization roles changed.' },
  'membership.deleted': { schema: membershipResponse, description: 'A user stopped being a member of an organization (not sent for each membership when the organization or the user is deleted).' },
  'domain.created': { schema: domainResponse, description: 'A domain was added to an organization, pending verification.' },
  'domain.verified': { schema: domainResponse, description: 'A domain was verified (DNS TXT record, or by an administrator: `verificationMethod`).' },
  'domain.verification_failed': { schema: domainResponse, description: 'The verification window of a domain ended without proof.' },
  'domain.deleted': { schema: domainResponse, description: 'A domain was removed from an organization.' },
});

export const organizationData = (o: Organization): OrganizationWire => organizationToWire(o);
export const membershipData = (m: Membership): MembershipWire => membershipToWire(m);
export const domainData = (d: OrganizationDomain): DomainWire => domainToWire(d);
