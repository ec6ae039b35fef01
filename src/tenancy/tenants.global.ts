/**
 * Creating tenants, and the first-start bootstrap. Unscoped by nature (no tenant exists yet), hence `.global`.
 * The bootstrap client's secret is returned to the caller to show once; only its HMAC is stored.
 */
import type { GlobalDb } from '../platform/db.ts';
import { forTenant } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { Conflict } from '../platform/errors/domain.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import { countTenants, findTenantBySlug, insertTenant, lockTenancy } from '../platform/tenancy/tenant.global.ts';
import { createClientWithSecret } from '../downstream/service.ts';
import { IAM_SCOPE } from '../downstream/protected-apis.ts';

export const BOOTSTRAP_CLIENT_ID = 'bootstrap';

export interface NewTenant {
  slug: string;
  displayName: string;
  issuer: string;
  hosts: string[];
  bootstrapClientId?: string;
  bootstrapClientSecret?: string;
}

export interface CreatedTenant {
  tenant: Tenant;
  clientId: string;
  clientSecret: string;
}

/** A tenant and its bootstrap machine client (scope `iam/`), in one transaction. */
export async function createTenant(db: GlobalDb, keyring: Keyring, input: NewTenant): Promise<CreatedTenant> {
  return db.transaction(async (tx) => {
    await lockTenancy(tx);
    if (await findTenantBySlug(tx, input.slug)) throw new Conflict(`A tenant with slug "${input.slug}" exists.`);
    const tenant = await insertTenant(tx, input);
    const { clientId, clientSecret } = await createClientWithSecret(forTenant(tx, tenant.id), keyring, {
      clientId: input.bootstrapClientId ?? BOOTSTRAP_CLIENT_ID,
      clientType: 'MachineClient',
      displayName: 'Bootstrap machine client',
      allowedScopes: [IAM_SCOPE],
      secret: input.bootstrapClientSecret,
      secretDescription: 'bootstrap',
    });
    return { tenant, clientId, clientSecret: clientSecret! };
  });
}

/**
 * On first start with an empty store: the default tenant and its bootstrap client. Returns the credentials only
 * when it created them; on every later start it returns undefined and nothing is printed.
 */
export async function ensureBootstrap(
  db: GlobalDb,
  keyring: Keyring,
  input: Omit<NewTenant, 'displayName'> & { displayName?: string },
): Promise<CreatedTenant | undefined> {
  if ((await countTenants(db)) > 0) return undefined;
  try {
    return await createTenant(db, keyring, { displayName: 'Default tenant', ...input });
  } catch (e) {
    // Another instance bootstrapped first.
    if (e instanceof Conflict) return undefined;
    throw e;
  }
}
