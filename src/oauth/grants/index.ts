/** The grant registry: one file per grant type; the token endpoint looks grants up here. */
import { grant as authorizationCode } from './authorization-code.ts';
import { grant as clientCredentials } from './client-credentials.ts';
import { grant as refreshToken } from './refresh-token.ts';
import type { Grant } from './types.ts';

export const grants: ReadonlyMap<string, Grant> = new Map([authorizationCode, clientCredentials, refreshToken].map((g) => [g.grantType, g]));
