/**
 * Client authentication at the token endpoint, RFC 6749 §2.3.1, https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * client_secret_basic and client_secret_post. The presented secret is HMACed and compared in constant time with
 * every live secret of the client, so rotation with several live secrets works.
 */
import type { FastifyRequest } from 'fastify';
import { InvalidClient, InvalidRequest } from '../platform/errors/oauth.ts';
import { safeEqual, type Keyring } from '../platform/crypto.ts';
import type { ClientRow, ClientsRepository } from '../downstream/repository.ts';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface AuthenticatedClient {
  client: ClientRow;
  method: ClientAuthMethod;
}

interface Credentials {
  clientId: string;
  secret: string | undefined;
  method: ClientAuthMethod;
}

/** §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

export function readCredentials(request: FastifyRequest, body: Record<string, unknown>): Credentials {
  const header = request.headers.authorization;
  const postId = typeof body.client_id === 'string' ? body.client_id : undefined;
  const postSecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  if (header && /^basic /i.test(header)) {
    // §2.3: "The client MUST NOT use more than one authentication method in each request."
    if (postSecret !== undefined) throw new InvalidRequest('Use one client authentication method, not Basic and client_secret together.');
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new InvalidClient('The Basic credentials are malformed.');
    let clientId: string;
    let secret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new InvalidClient('The Basic credentials are malformed.');
    }
    if (postId !== undefined && postId !== clientId) throw new InvalidRequest('client_id in the body differs from the Basic credentials.');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (postId === undefined) throw new InvalidClient('Client authentication is required.');
  return { clientId: postId, secret: postSecret, method: postSecret === undefined ? 'none' : 'client_secret_post' };
}

export async function authenticateClient(creds: Credentials, repo: ClientsRepository, keys: Keyring): Promise<AuthenticatedClient> {
  const client = await repo.findClient(creds.clientId);
  if (creds.method === 'none') {
    if (client?.clientType === 'ClientSideApplication') return { client, method: 'none' };
    throw new InvalidClient('Client authentication failed.');
  }
  const presented = keys.hashSecret(creds.secret ?? '');
  // Each comparison is constant-time, and every live secret is compared, so timing does not reveal which one matched.
  const hashes = client ? await repo.findLiveSecretHashes(client.clientId) : [];
  let ok = false;
  for (const h of hashes) ok = safeEqual(presented, h) || ok;
  if (!client || !ok) throw new InvalidClient('Client authentication failed.');
  return { client, method: creds.method };
}
