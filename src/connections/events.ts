/** SSO connections' feed events (src/events/catalog.ts): the connection as `/api/connections` shows it (never its secret). */
import type { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { connectionResponse, connectionToWire } from './schemas.ts';
import type { Connection } from './service.ts';

type ConnectionWire = z.infer<typeof connectionResponse>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'connection.created': ConnectionWire;
    'connection.updated': ConnectionWire;
    'connection.activated': ConnectionWire;
    'connection.deactivated': ConnectionWire;
    'connection.deleted': ConnectionWire;
  }
}

defineFeedEvents({
  'connection.created': { schema: connectionResponse, description: 'An SSO connection was created for an organization (as a draft).' },
  'connection.updated': { schema: connectionResponse, description: 'An SSO connection\'s settings changed; `previousAttributes` holds the changed fields before (a new client secret shows as `hasClientSecret` only).' },
  'connection.activated': { schema: connectionResponse, description: 'An SSO connection became active: sign-ins go through it.' },
  'connection.deactivated': { schema: connectionResponse, description: 'An SSO connection stopped accepting sign-ins.' },
  'connection.deleted': { schema: connectionResponse, description: 'An SSO connection was deleted (not sent for each connection when its organization is deleted).' },
});

export const connectionData = (c: Connection): ConnectionWire => connectionToWire(c) as ConnectionWire;
