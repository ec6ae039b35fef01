/**
 * Token endpoint, RFC 6749 §3.2, https://www.rfc-editor.org/rfc/rfc6749#section-3.2
 * Steps, in the spec's order: form body → client authentication → grant type supported → grant allowed → grant.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidRequest, UnsupportedGrantType } from '../../platform/errors/oauth.ts';
import { clientsRepository } from '../../downstream/repository.ts';
import { authenticateClient, readCredentials } from '../client-auth.ts';
import { grants } from '../grants/index.ts';
import type { OAuthDeps } from '../plugin.ts';

export const TOKEN_PATH = '/oauth2/token';

const tokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string().optional(),
});
const oauthError = z.object({ error: z.string(), error_description: z.string().optional() });

export function tokenRoute(app: FastifyInstance, deps: OAuthDeps) {
  app.post(TOKEN_PATH, {
    schema: {
      operationId: 'oauth.token',
      tags: ['OAuth'],
      summary: 'Token endpoint (client_credentials)',
      description:
        'RFC 6749 §4.4. Authenticate with HTTP Basic (client_secret_basic) or with client_id and client_secret in the form body (client_secret_post). Without `scope`, the token carries all of the client\'s allowed scopes.',
      consumes: ['application/x-www-form-urlencoded'],
      body: z.looseObject({
        grant_type: z.string().describe('`client_credentials`').optional(),
        scope: z.string().describe('Space-separated scopes, e.g. `iam/`').optional(),
        client_id: z.string().optional(),
        client_secret: z.string().optional(),
      }),
      response: { 200: tokenResponse, 400: oauthError, 401: oauthError },
    },
    async handler(request, reply) {
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      const body = request.body as Record<string, unknown>;
      // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
      for (const [k, v] of Object.entries(body)) if (Array.isArray(v)) throw new InvalidRequest(`Parameter ${k} is repeated.`);
      const grantTypeParam = body.grant_type;
      if (typeof grantTypeParam !== 'string' || !grantTypeParam) throw new InvalidRequest('grant_type is required.');
      const creds = readCredentials(request, body);
      const repo = clientsRepository(deps.scopeFor(request.tenant.id));
      const client = await authenticateClient(creds, repo, deps.keyring);
      request.clientId = client.client.clientId;
      const grant = grants.get(grantTypeParam);
      if (!grant) throw new UnsupportedGrantType(`Unsupported grant_type: ${grantTypeParam}.`);
      const params = Object.fromEntries(grant.parameters.filter((p) => typeof body[p] === 'string').map((p) => [p, body[p] as string]));
      return grant.handle({ tenant: request.tenant, client, params, tokens: deps.tokens, defaultAccessTokenTtl: deps.accessTokenTtl });
    },
  });
}
