/**
 * Authorization server metadata, RFC 8414 §3, https://www.rfc-editor.org/rfc/rfc8414#section-3
 * and OpenID Connect Discovery 1.0 §4. One document, served at both well-known paths, per tenant.
 */
import type { FastifyInstance } from 'fastify';
import { allScopes } from '../../downstream/protected-apis.ts';
import { grants } from '../grants/index.ts';
import { SIGNING_ALGS } from '../../db/schema/index.ts';
import { TOKEN_PATH } from './token.ts';
import { JWKS_PATH } from './jwks.ts';

export function discoveryRoutes(app: FastifyInstance) {
  const handler = async (request: { tenant: { issuer: string } }) => {
    const issuer = request.tenant.issuer;
    return {
      issuer,
      token_endpoint: issuer + TOKEN_PATH,
      jwks_uri: issuer + JWKS_PATH,
      scopes_supported: allScopes(),
      response_types_supported: [],
      grant_types_supported: [...grants.keys()],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    };
  };
  const schema = { operationId: 'oauth.metadata', tags: ['OAuth'], summary: 'Authorization server metadata (RFC 8414)' };
  app.get('/.well-known/oauth-authorization-server', { schema }, handler);
  app.get('/.well-known/openid-configuration', { schema: { ...schema, operationId: 'oidc.discovery', summary: 'OpenID Connect discovery' } }, handler);
}
