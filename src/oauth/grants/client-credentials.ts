/**
 * Client credentials grant. RFC 6749 §4.4, https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import { InvalidScope, UnauthorizedClient } from '../../platform/errors/oauth.ts';
import { TENANT_WIDE_SCOPES, type ScopeCatalog } from '../../downstream/protected-apis.ts';
import type { Grant } from './types.ts';

export const grantType = 'client_credentials';
export const parameters = ['scope'] as const;

/**
 * RFC 6749 §3.3: scope is space-delimited and case-sensitive. Without one, the client's allowed API scopes are the
 * default ("the authorization server MUST either process the request using a pre-defined default value or fail").
 */
export function resolveScopes(catalog: ScopeCatalog, requested: string | undefined, allowed: string[], opts: { apiOnly: boolean }): string[] {
  if (requested === undefined || requested.trim() === '') {
    const defaults = allowed.filter((s) => catalog.apiForScope(s));
    if (!defaults.length) throw new InvalidScope('The client has no allowed scopes.');
    return defaults;
  }
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const unknown = scopes.filter((s) => !(opts.apiOnly ? catalog.apiForScope(s) : catalog.isKnown(s)));
  if (unknown.length) throw new InvalidScope(`Unknown scope: ${unknown.join(' ')}.`);
  const denied = scopes.filter((s) => !allowed.includes(s));
  if (denied.length) throw new InvalidScope(`The client is not allowed scope: ${denied.join(' ')}.`);
  return scopes;
}

export const grant: Grant = {
  grantType,
  parameters,
  async handle({ tenant, client, params, tokens, catalog, defaultAccessTokenTtl }) {
    // §4.4: "The client credentials grant type MUST only be used by confidential clients." Only machine clients.
    if (client.client.clientType !== 'MachineClient' || client.method === 'none') {
      throw new UnauthorizedClient('This client may not use the client_credentials grant.');
    }
    const organizationId = client.client.organizationId;
    // ADR 0009: an organization-scoped client never holds tenant-wide scopes (checked when it is saved, and here).
    const allowed = organizationId ? client.client.allowedScopes.filter((s) => !TENANT_WIDE_SCOPES.includes(s)) : client.client.allowedScopes;
    const scopes = resolveScopes(catalog, params.scope, allowed, { apiOnly: true });
    const ttl = client.client.accessTokenLifetime ?? defaultAccessTokenTtl;
    const { token } = await tokens.issue(tenant, {
      grantType,
      sub: client.client.clientId,
      clientId: client.client.clientId,
      clientInstance: client.client.instanceId,
      scopes,
      audiences: catalog.audiencesFor(scopes),
      ttlSeconds: ttl,
      alg: client.client.tokenSigningAlg,
      ...(organizationId ? { extra: { org_id: organizationId } } : {}),
    });
    return { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') };
  },
};
