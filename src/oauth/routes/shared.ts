/** Steps shared by the endpoints that authenticate clients (token, introspection, revocation). */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InvalidRequest } from '../../platform/errors/oauth.ts';
import { authenticateClient, readCredentials, type AuthenticatedClient } from '../client-auth.ts';
import type { OAuthDeps } from '../plugin.ts';

export const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/** RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once." */
export function singleValuedForm(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(v)) throw new InvalidRequest(`Parameter ${k} is repeated.`);
    if (typeof v === 'string' && v !== '') out[k] = v;
  }
  return out;
}

export async function authenticateRequest(deps: OAuthDeps, request: FastifyRequest, body: Record<string, string>, path: string): Promise<AuthenticatedClient> {
  const client = await authenticateClient(deps, request.tenant, readCredentials(request, body), { ip: request.ip, endpointUrl: request.tenant.issuer + path });
  request.clientId = client.client.clientId;
  return client;
}
