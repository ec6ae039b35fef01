/** The wire format of the Admin Portal's management API (camelCase JSON). */
import { z } from 'zod';
import { PORTAL_INTENTS } from '../db/schema/index.ts';
import { MAX_FRAME_ANCESTORS, type PortalLink } from './service.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * An origin for CSP frame-ancestors (CSP3 §6.4.2 host-source): `https://host[:port]` exactly, no path, no wildcard;
 * `http:` only for loopback development. What a browser compares, so anything else would silently never match.
 */
export const frameOrigin = z
  .string()
  .max(512)
  .refine((v) => {
    try {
      const u = new URL(v);
      const secure = u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname));
      return secure && u.origin === v && /^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(u.hostname);
    } catch {
      return false;
    }
  }, 'an origin: https://host[:port] without a path or a trailing slash (http only for localhost and 127.0.0.1)');

export const portalLinkCreateBody = z
  .strictObject({
    intent: z.enum(PORTAL_INTENTS).describe('What the link lets its holder configure: `sso` (SSO connection), `dsync` (directory sync), `domain_verification`, `certificate_renewal` (SAML signing certificates).'),
    returnUrl: z.url({ protocol: /^https?$/ }).max(2048).optional().describe('Where the portal\'s "Done" goes (your application); without it the portal shows a closing page.'),
  })
  .meta({ examples: [{ intent: 'sso', returnUrl: 'https://app.example.com/settings/sso' }] });

export const portalLinkResponse = z
  .object({
    id: z.uuid(),
    organizationId: z.uuid(),
    intent: z.enum(PORTAL_INTENTS),
    returnUrl: z.string().nullable(),
    url: z.url().describe('The one-time link: hand it to the IT administrator (or load it in your iframe). Opening it once starts the portal session; it is never usable again.'),
    expiresAt: z.iso.datetime().describe('The link must be opened before this time.'),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'PortalLink' });

export const portalSettingsBody = z
  .strictObject({ frameAncestors: z.array(frameOrigin).max(MAX_FRAME_ANCESTORS).describe('Origins that may embed the portal in an iframe (CSP frame-ancestors). Empty: framing is refused.') })
  .meta({ examples: [{ frameAncestors: ['https://app.example.com'] }] });

export const portalSettingsResponse = z.object({ frameAncestors: z.array(z.string()) }).meta({ id: 'PortalSettings' });

export function portalLinkToWire(l: PortalLink & { url: string }) {
  return { id: l.id, organizationId: l.organizationId, intent: l.intent, returnUrl: l.returnUrl, url: l.url, expiresAt: l.expiresAt.toISOString(), createdAt: l.createdAt.toISOString() };
}
