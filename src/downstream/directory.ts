/**
 * What the token endpoint needs on every request, cached per tenant: the client with its live secret hashes, and
 * the tenant's scope catalog. Changes invalidate across instances at commit (platform/invalidation.ts); the time
 * limit only bounds what a lost notification could cost.
 */
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import { CACHE_TTL_MS, TenantCache, type Invalidation } from '../platform/invalidation.ts';
import { clientsRepository, type ClientRow } from './repository.ts';
import { loadScopeCatalog, type ScopeCatalog } from './protected-apis.ts';

export interface DirectoryClient {
  client: ClientRow;
  secrets: { hash: Buffer; expiresAt: Date | null }[];
}

export class ClientDirectory {
  readonly #clients = new TenantCache<DirectoryClient | undefined>({ ttlMs: CACHE_TTL_MS });
  readonly #catalogs = new TenantCache<ScopeCatalog>({ ttlMs: CACHE_TTL_MS });
  readonly #origins = new TenantCache<Set<string>>({ ttlMs: CACHE_TTL_MS });
  readonly #scopeFor: ScopeFor;

  constructor(opts: { scopeFor: ScopeFor; invalidation: Invalidation }) {
    this.#scopeFor = opts.scopeFor;
    opts.invalidation.on('client', (tenantId, key) => {
      this.#clients.invalidate(tenantId, key);
      this.#origins.invalidate(tenantId);
    });
    opts.invalidation.on('protected-apis', (tenantId) => this.#catalogs.invalidate(tenantId));
  }

  client(tenantId: TenantId, clientId: string): Promise<DirectoryClient | undefined> {
    return this.#clients.get(tenantId, clientId, async () => {
      const repo = clientsRepository(this.#scopeFor(tenantId));
      const client = await repo.findClient(clientId);
      if (!client) return undefined;
      const secrets = (await repo.listSecrets(clientId)).map((s) => ({ hash: s.secretHash, expiresAt: s.expiresAt }));
      return { client, secrets };
    });
  }

  /** Origins allowed to call the token endpoint from a browser: the tenant's ClientSideApplications' origins. */
  corsOrigins(tenantId: TenantId): Promise<Set<string>> {
    return this.#origins.get(tenantId, 'origins', async () => {
      const spas = await clientsRepository(this.#scopeFor(tenantId)).listClients('ClientSideApplication');
      return new Set(spas.flatMap((c) => c.allowedCorsOrigins));
    });
  }

  catalog(tenantId: TenantId): Promise<ScopeCatalog> {
    return this.#catalogs.get(tenantId, 'catalog', () => loadScopeCatalog(this.#scopeFor(tenantId)));
  }
}
