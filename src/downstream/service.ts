/**
 * Downstream clients: the rules. Secrets are generated here (256 bits), returned once, and stored as HMAC only.
 */
import type { TenantScope } from '../platform/db.ts';
import { generateSecret, type Keyring } from '../platform/crypto.ts';
import { Invalid } from '../platform/errors/domain.ts';
import type { ClientType } from '../db/schema/index.ts';
import { clientsRepository } from './repository.ts';
import { apiForScope } from './protected-apis.ts';

export interface NewClient {
  clientId: string;
  clientType: ClientType;
  displayName: string;
  allowedScopes: string[];
}

export function assertKnownScopes(scopes: string[]): void {
  const unknown = scopes.filter((s) => !apiForScope(s));
  if (unknown.length) throw new Invalid(`Unknown scope(s): ${unknown.join(', ')}. Scope values are exact, e.g. "iam/" with its trailing slash.`, { unknownScopes: unknown });
}

/** Creates a client and, for confidential types, a first secret: the given one or a generated one. */
export async function createClientWithSecret(
  scope: TenantScope,
  keys: Keyring,
  input: NewClient & { secret?: string; secretDescription?: string },
): Promise<{ clientId: string; clientSecret: string | undefined }> {
  assertKnownScopes(input.allowedScopes);
  return scope.transaction(async (tx) => {
    const repo = clientsRepository(tx);
    await repo.insertClient({ clientId: input.clientId, clientType: input.clientType, displayName: input.displayName, allowedScopes: input.allowedScopes });
    if (input.clientType === 'ClientSideApplication') return { clientId: input.clientId, clientSecret: undefined };
    const secret = input.secret ?? generateSecret();
    await repo.insertSecret({ clientId: input.clientId, secretHash: keys.hashSecret(secret), description: input.secretDescription });
    return { clientId: input.clientId, clientSecret: secret };
  });
}
