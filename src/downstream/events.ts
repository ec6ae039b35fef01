/** Downstream clients' feed events (src/events/catalog.ts): the client as `/api/downstream` shows it; secrets by metadata only. */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { clientResponse, secretMetadata } from './schemas.ts';

export const clientSecretData = secretMetadata.extend({ clientId: z.string() });

declare module '../events/catalog.ts' {
  interface FeedEventData {
    'client.created': z.infer<typeof clientResponse>;
    'client.updated': z.infer<typeof clientResponse>;
    'client.deleted': z.infer<typeof clientResponse>;
    'client.secret_created': z.infer<typeof clientSecretData>;
    'client.secret_deleted': z.infer<typeof clientSecretData>;
  }
}

defineFeedEvents({
  'client.created': { schema: clientResponse, description: 'A downstream client was created.' },
  'client.updated': { schema: clientResponse, description: 'A downstream client was replaced (PUT); `previousAttributes` holds the changed fields before.' },
  'client.deleted': { schema: clientResponse, description: 'A downstream client was deleted (by an administrator, or with its organization); its tokens stopped working.' },
  'client.secret_created': { schema: clientSecretData, description: 'A secret was added to a client. The secret itself is never in the feed.' },
  'client.secret_deleted': { schema: clientSecretData, description: 'A secret of a client was deleted; it no longer authenticates.' },
});
