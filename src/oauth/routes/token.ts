/**
 * Token endpoint, RFC 6749 §3.2, https://www.rfc-editor.org/rfc/rfc6749#section-3.2
 * Steps, in the spec's order: form body → no repeated parameters → grant_type present → client authentication →
 * grant supported → the grant (which checks it is allowed for the client).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidRequest, UnsupportedGrantType } from '../../platform/errors/oauth.ts';
import { grants } from '../grants/index.ts';
import type { OAuthDeps } from '../plugin.ts';
import { authenticateRequest, oauthErrorSchema, singleValuedForm } from './shared.ts';

export const TOKEN_PATH = '/oauth2/token';

const tokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string().optional(),
  refresh_token: z.string().optional(),
  id_token: z.string().optional(),
});

export function tokenRoute(app: FastifyInstance, deps: OAuthDeps) {
  app.post(TOKEN_PATH, {
    schema: {
      operationId: 'oauth.token',
      tags: ['OAuth'],
      summary: 'Token endpoint',
      description:
        'RFC 6749 §3.2. Grants: `client_credentials` (machine clients), `authorization_code` with PKCE, `refresh_token` (rotated on every use). ' +
        'Client authentication: HTTP Basic (client_secret_basic), client_id and client_secret in the body (client_secret_post), a signed JWT (private_key_jwt, RFC 7523), or client_id only for public clients. ' +
        "Without `scope`, a client_credentials token carries all of the client's allowed API scopes.",
      consumes: ['application/x-www-form-urlencoded'],
      body: z.looseObject({
        grant_type: z.string().describe('`client_credentials`, `authorization_code` or `refresh_token`').optional(),
        scope: z.string().describe('Space-separated scopes, e.g. `iam/`').optional(),
        client_id: z.string().optional(),
        client_secret: z.string().optional(),
        code: z.string().optional(),
        redirect_uri: z.string().optional(),
        code_verifier: z.string().optional(),
        refresh_token: z.string().optional(),
        client_assertion_type: z.string().optional(),
        client_assertion: z.string().optional(),
      }),
      response: { 200: tokenResponse, 400: oauthErrorSchema, 401: oauthErrorSchema, 429: oauthErrorSchema },
    },
    // The hottest route: the schemas above document it; the handler checks every parameter itself (RFC 6749 §3.2
    // steps below) and builds the response from fixed fields, so zod's runtime passes would only repeat that work.
    validatorCompiler: () => (data: unknown) => ({ value: data }),
    serializerCompiler: () => (data: unknown) => JSON.stringify(data),
    async handler(request, reply) {
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
      const body = singleValuedForm(request.body);
      const grantTypeParam = body.grant_type;
      if (!grantTypeParam) throw new InvalidRequest('grant_type is required.');
      const client = await authenticateRequest(deps, request, body, TOKEN_PATH);
      const grant = grants.get(grantTypeParam);
      if (!grant) throw new UnsupportedGrantType(`Unsupported grant_type: ${grantTypeParam}.`);
      const params = Object.fromEntries(grant.parameters.filter((p) => body[p] !== undefined).map((p) => [p, body[p]!]));
      const response = await grant.handle({
        tenant: request.tenant,
        scope: deps.scopeFor(request.tenant.id),
        client,
        params,
        tokens: deps.tokens,
        catalog: await deps.directory.catalog(request.tenant.id),
        keyring: deps.keyring,
        defaultAccessTokenTtl: deps.accessTokenTtl,
        ip: request.ip,
      });
      // Both labels come from fixed lists: the grant registry and CLIENT_TYPES.
      deps.metrics.recordTokenIssued(grant.grantType, client.client.clientType);
      return response;
    },
  });
}
