/** Signing keys' feed events (src/events/catalog.ts): which key signs now, by key id; never key material. */
import { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { SIGNING_ALGS } from '../db/schema/index.ts';

export const keyRotatedData = z.object({
  alg: z.enum(SIGNING_ALGS),
  active: z.string().describe('The `kid` that signs from now on.'),
  next: z.string().describe('The `kid` published to sign after the next rotation.'),
  retired: z.string().nullable().describe('The `kid` that signed until now; it verifies until the tokens it signed have expired.'),
});
export const keyRevokedData = z.object({
  revoked: z.string().describe('The `kid` revoked: every token it signed is rejected.'),
  active: z.string().nullable().describe('The `kid` that took over signing, when the revoked key was the signing key.'),
});

declare module '../events/catalog.ts' {
  interface FeedEventData {
    'key.rotated': z.infer<typeof keyRotatedData>;
    'key.revoked': z.infer<typeof keyRevokedData>;
  }
}

defineFeedEvents({
  'key.rotated': { schema: keyRotatedData, description: 'The tenant\'s signing key was rotated (by an administrator or the KEY_ROTATION_DAYS schedule).' },
  'key.revoked': { schema: keyRevokedData, description: 'A signing key was revoked as compromised.' },
});
