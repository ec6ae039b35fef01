/**
 * Peer (b): the npm package `oidc-provider` (v9, Koa) as a client_credentials-only authorization server.
 *
 * Configured to do what our service does per request: authenticate one confidential client with
 * client_secret_basic, then issue an RFC 9068 JWT access token (`typ: at+jwt`) signed ES256 with a P-256 key.
 * JWT access tokens need a resource server, so resource indicators are on with a default resource; the JWT format
 * is not stored (the default in-memory adapter is never written to for this grant). The client is static
 * configuration: its lookup is a Map read, with no database behind it.
 *
 * Env: PORT, CLIENT_ID, CLIENT_SECRET. Binds 127.0.0.1.
 */
import http from 'node:http';
import { exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { HOST, OIDC_PROVIDER_RESOURCE as RESOURCE, OIDC_PROVIDER_SCOPE as SCOPE, announceReady, required } from './shared.ts';

const port = Number(required('PORT'));
const issuer = `http://${HOST}:${port}`;

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = await exportJWK(privateKey);
const signingKey = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: required('CLIENT_ID'),
      client_secret: required('CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  jwks: { keys: [signingKey] },
  clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['client_credentials'], response_types: [] },
  scopes: [SCOPE],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return { scope: SCOPE, audience: RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});
// Errors answered to clients (e.g. a wrong secret) are not failures of this process; keep stderr for real ones.
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${String(err)}\n`));

const server = http.createServer(provider.callback());
server.listen(port, HOST, () => announceReady(port));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
