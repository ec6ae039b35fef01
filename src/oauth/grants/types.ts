import type { Tenant } from '../../platform/tenancy/tenant.ts';
import type { TenantScope } from '../../platform/db.ts';
import type { Keyring } from '../../platform/crypto.ts';
import type { ScopeCatalog } from '../../downstream/protected-apis.ts';
import type { AuthenticatedClient } from '../client-auth.ts';
import type { AccessTokens } from '../tokens.ts';

export interface GrantContext {
  tenant: Tenant;
  scope: TenantScope;
  client: AuthenticatedClient;
  /** Only the parameters the grant declares; the token endpoint drops the rest. */
  params: Record<string, string>;
  tokens: AccessTokens;
  catalog: ScopeCatalog;
  keyring: Keyring;
  defaultAccessTokenTtl: number;
  /** The caller's address, for the audit trail of security events (reuse, replay). */
  ip: string;
}

/** RFC 6749 §5.1 */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

export interface Grant {
  grantType: string;
  parameters: readonly string[];
  handle(ctx: GrantContext): Promise<TokenResponse>;
}
