/** The users capability's feed events (src/events/catalog.ts): the user as `/api/users` shows it. */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { userResponse, userToWire } from './schemas.ts';
import type { User } from './service.ts';

export const sessionRevokedData = z.object({
  userId: z.uuid(),
  allSessions: z.literal(true).describe('Every session of the user ended, and every token issued before `signedOutBefore` stopped working.'),
  signedOutBefore: z.iso.datetime(),
});

type UserWire = z.infer<typeof userResponse>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'user.created': UserWire;
    'user.updated': UserWire;
    'user.deleted': UserWire;
    'session.revoked': z.infer<typeof sessionRevokedData>;
  }
}

defineFeedEvents({
  'user.created': { schema: userResponse, description: 'A user was created (`/api/users`, SCIM, or sign-in through a provider that creates users).' },
  'user.updated': { schema: userResponse, description: 'A user changed: attributes, `active`, password set or removed (`passwordSet`), roles. `previousAttributes` holds the changed fields before.' },
  'user.deleted': { schema: userResponse, description: 'A user was deleted; `data` is the user as it was.' },
  'session.revoked': { schema: sessionRevokedData, description: 'An administrator signed a user out everywhere.' },
});

export const userData = (u: User): UserWire => userToWire(u);
