/**
 * Protected APIs and their scopes. The built-in set follows the Bizzkit seed exactly: scope values end in a
 * slash (`iam/`), and `iam` without it is not a scope. Tenants' own APIs arrive with the authorization-server issue.
 */
export interface ProtectedApi {
  /** The `aud` value of tokens for this API (RFC 9068 §3). */
  audience: string;
  displayName: string;
  scopes: readonly string[];
}

export const BUILT_IN_APIS: readonly ProtectedApi[] = [
  { audience: 'aiapi', displayName: 'AI-related APIs', scopes: ['aiapi/'] },
  { audience: 'damapi', displayName: 'DAM APIs', scopes: ['damapi/'] },
  { audience: 'eventtrackingapi', displayName: 'Event Tracking APIs', scopes: ['eventtrackingapi/'] },
  { audience: 'iam', displayName: 'User Management and IAM APIs', scopes: ['iam/'] },
  { audience: 'mailapi', displayName: 'Mail APIs', scopes: ['mailapi/'] },
  { audience: 'pimapi', displayName: 'PIM APIs', scopes: ['pimapi/'] },
  { audience: 'searchapi', displayName: 'Ecommerce Search APIs', scopes: ['searchapi/'] },
  { audience: 'scim', displayName: 'SCIM 2.0 provisioning', scopes: ['scim.read', 'scim.write'] },
];

/** The scope that guards this service's own `/api`. */
export const IAM_SCOPE = 'iam/';
export const IAM_AUDIENCE = 'iam';

const byScope = new Map(BUILT_IN_APIS.flatMap((api) => api.scopes.map((s) => [s, api] as const)));

export function apiForScope(scope: string): ProtectedApi | undefined {
  return byScope.get(scope);
}

export function allScopes(): string[] {
  return [...byScope.keys()];
}
