import type { Tenant } from '../../platform/tenancy/tenant.ts';
import type { AuthenticatedClient } from '../client-auth.ts';
import type { AccessTokens } from '../tokens.ts';

export interface GrantContext {
  tenant: Tenant;
  client: AuthenticatedClient;
  /** Only the parameters the grant declares; the token endpoint drops the rest. */
  params: Record<string, string>;
  tokens: AccessTokens;
  defaultAccessTokenTtl: number;
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
