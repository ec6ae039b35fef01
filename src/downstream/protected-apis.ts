/**
 * Protected APIs and their scopes. The built-in set follows the Bizzkit seed exactly: scope values end in a slash
 * (`iam/`), and `iam` without it is not a scope. A tenant can register its own APIs (audience + scopes) beside them.
 */
import type { TenantScope } from '../platform/db.ts';
import { protectedApis } from '../db/schema/index.ts';

export interface ProtectedApi {
  /** The `aud` value of tokens for this API (RFC 9068 §3). */
  audience: string;
  displayName: string;
  scopes: readonly string[];
  builtIn: boolean;
}

export const BUILT_IN_APIS: readonly ProtectedApi[] = [
  { audience: 'aiapi', displayName: 'AI-related APIs', scopes: ['aiapi/'], builtIn: true },
  { audience: 'damapi', displayName: 'DAM APIs', scopes: ['damapi/'], builtIn: true },
  { audience: 'eventtrackingapi', displayName: 'Event Tracking APIs', scopes: ['eventtrackingapi/'], builtIn: true },
  { audience: 'iam', displayName: 'User Management and IAM APIs', scopes: ['iam/', 'iam/organization'], builtIn: true },
  { audience: 'mailapi', displayName: 'Mail APIs', scopes: ['mailapi/'], builtIn: true },
  { audience: 'pimapi', displayName: 'PIM APIs', scopes: ['pimapi/'], builtIn: true },
  { audience: 'searchapi', displayName: 'Ecommerce Search APIs', scopes: ['searchapi/'], builtIn: true },
  { audience: 'scim', displayName: 'SCIM 2.0 provisioning', scopes: ['scim.read', 'scim.write'], builtIn: true },
];

/** The scope that guards this service's own `/api`. */
export const IAM_SCOPE = 'iam/';
export const IAM_AUDIENCE = 'iam';

/**
 * The management API confined to one organization (ADR 0009): only for MachineClients bound to an organization; with
 * it, `/api/organizations/{id}/…` answers for that organization alone.
 */
export const ORGANIZATION_SCOPE = 'iam/organization';

/**
 * Scopes over the whole tenant's administration: `iam/` (the management API, admin-equivalent for machine tokens)
 * and SCIM provisioning (creates and changes any user). An organization-scoped client may never hold them.
 */
export const TENANT_WIDE_SCOPES: readonly string[] = [IAM_SCOPE, 'scim.read', 'scim.write'];

/**
 * Scopes that open this service's own administration, the tenant's or an organization's. Only an administrator may
 * give them to a client or touch a client that has them (issue #9: no grant beyond what the grantor holds).
 */
export const PRIVILEGED_SCOPES: readonly string[] = [...TENANT_WIDE_SCOPES, ORGANIZATION_SCOPE];

/** OpenID Connect scopes (Core §5.4, §11): they need no API and give no audience. */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

/** The scopes one tenant knows: built-in, its own APIs', and the OpenID Connect ones. */
export class ScopeCatalog {
  readonly apis: readonly ProtectedApi[];
  readonly #byScope: Map<string, ProtectedApi>;
  constructor(apis: readonly ProtectedApi[]) {
    this.apis = apis;
    this.#byScope = new Map(apis.flatMap((api) => api.scopes.map((s) => [s, api] as const)));
  }
  apiForScope(scope: string): ProtectedApi | undefined {
    return this.#byScope.get(scope);
  }
  isKnown(scope: string): boolean {
    return this.#byScope.has(scope) || (OIDC_SCOPES as readonly string[]).includes(scope);
  }
  apiScopes(): string[] {
    return [...this.#byScope.keys()];
  }
  /** RFC 9068 §3: the audiences of the APIs the scopes belong to. */
  audiencesFor(scopes: string[]): string[] {
    return [...new Set(scopes.flatMap((s) => this.#byScope.get(s)?.audience ?? []))];
  }
}

export async function loadScopeCatalog(scope: TenantScope): Promise<ScopeCatalog> {
  const rows = await scope.select(protectedApis);
  return new ScopeCatalog([...BUILT_IN_APIS, ...rows.map((r) => ({ audience: r.audience, displayName: r.displayName, scopes: r.scopes, builtIn: false }))]);
}
