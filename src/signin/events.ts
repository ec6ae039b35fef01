/**
 * Sign-in's feed events (src/events/catalog.ts): security events a SaaS backend or a SIEM follows. A browser session
 * is named by its public `sid` (the `sid` claim of ID tokens, OpenID Connect Front-Channel Logout 1.0 §3), never by
 * its cookie.
 */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import type { Session } from './sessions.ts';

export const sessionData = z.object({
  sid: z.string().describe('The session\'s public id (the `sid` claim); not its cookie.'),
  userId: z.uuid(),
  method: z.string().describe('How the user authenticated: `pwd`, `upstream:<type>:<id>` or `connection:<type>:<id>`.'),
  authTime: z.iso.datetime(),
});
export const sessionEndedData = sessionData.extend({
  endedBy: z.enum(['user']).describe('`user`: the user ended it on /account. (Sign-out at the end-session endpoint and expiry write no event.)'),
});

declare module '../events/catalog.ts' {
  interface FeedEventData {
    'session.created': z.infer<typeof sessionData>;
    'session.ended': z.infer<typeof sessionEndedData>;
  }
}

defineFeedEvents({
  'session.created': { schema: sessionData, description: 'A user signed in: a browser session began (password, upstream provider, SSO connection, or an accepted invitation).' },
  'session.ended': { schema: sessionEndedData, description: 'A user ended one of their sessions, or all their others, on /account (one event per session).' },
});

export const sessionWire = (s: Session): z.infer<typeof sessionData> => ({ sid: s.sid, userId: s.userId, method: s.method, authTime: s.authTime.toISOString() });
