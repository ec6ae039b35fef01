/**
 * Authorization server metadata, RFC 8414 §2, https://www.rfc-editor.org/rfc/rfc8414#section-2
 * and OpenID Connect Discovery 1.0 §3. One document, served at both well-known paths, per tenant.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SIGNING_ALGS } from '../../db/schema/index.ts';
import { OIDC_SCOPES } from '../../downstream/protected-apis.ts';
import { CLIENT_AUTH_METHODS } from '../client-auth.ts';
import { grants } from '../grants/index.ts';
import type { OAuthDeps } from '../plugin.ts';
import { AUTHORIZATION_PATH } from './authorize.ts';
import { END_SESSION_PATH } from './end-session.ts';
import { INTROSPECTION_PATH } from './introspect.ts';
import { JWKS_PATH } from './jwks.ts';
import { REVOCATION_PATH } from './revoke.ts';
import { TOKEN_PATH } from './token.ts';
import { USERINFO_PATH } from './userinfo.ts';

export function discoveryRoutes(app: FastifyInstance, deps: OAuthDeps) {
  const handler = async (request: FastifyRequest) => {
    const issuer = request.tenant.issuer;
    const catalog = await deps.directory.catalog(request.tenant.id);
    const authMethods = CLIENT_AUTH_METHODS;
    return {
      issuer,
      authorization_endpoint: issuer + AUTHORIZATION_PATH,
      token_endpoint: issuer + TOKEN_PATH,
      userinfo_endpoint: issuer + USERINFO_PATH,
      jwks_uri: issuer + JWKS_PATH,
      introspection_endpoint: issuer + INTROSPECTION_PATH,
      revocation_endpoint: issuer + REVOCATION_PATH,
      end_session_endpoint: issuer + END_SESSION_PATH,
      scopes_supported: [...OIDC_SCOPES, ...catalog.apiScopes()],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: [...grants.keys()],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: authMethods,
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      introspection_endpoint_auth_methods_supported: authMethods.filter((m) => m !== 'none'),
      revocation_endpoint_auth_methods_supported: authMethods,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...SIGNING_ALGS],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'name', 'given_name', 'family_name', 'preferred_username', 'email', 'email_verified', 'roles', 'tid'],
      authorization_response_iss_parameter_supported: true,
      prompt_values_supported: ['none', 'login'],
    };
  };
  const schema = { operationId: 'oauth.metadata', tags: ['OAuth'], summary: 'Authorization server metadata (RFC 8414)' };
  app.get('/.well-known/oauth-authorization-server', { schema }, handler);
  app.get('/.well-known/openid-configuration', { schema: { ...schema, operationId: 'oidc.discovery', summary: 'OpenID Connect discovery' } }, handler);
}
