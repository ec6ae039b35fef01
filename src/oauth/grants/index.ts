/** The grant registry: one file per grant type; the token endpoint looks grants up here. */
import { grant as clientCredentials } from './client-credentials.ts';
import type { Grant } from './types.ts';

export const grants: ReadonlyMap<string, Grant> = new Map([clientCredentials].map((g) => [g.grantType, g]));
