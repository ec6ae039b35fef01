/**
 * The unscoped tenant lookups. Everything else in the service reaches the database through `forTenant`; these
 * functions run before a tenant is known (Host → tenant) or create tenants, so they take the bypass handle
 * (`Database.global`, role `iam_global`, which row-level security lets see every tenant) or a transaction on it.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import type { GlobalDb, Tx } from '../db.ts';
import { tenantHosts, tenants } from '../../db/schema/index.ts';
import { normalizeHost, type Tenant, type TenantId } from './tenant.ts';

const columns = { id: tenants.id, slug: tenants.slug, displayName: tenants.displayName, issuer: tenants.issuer };

export async function findTenantByHosts(db: GlobalDb, hosts: string[]): Promise<(Tenant & { host: string }) | undefined> {
  const rows = await db
    .select({ ...columns, host: tenantHosts.host })
    .from(tenantHosts)
    .innerJoin(tenants, eq(tenants.id, tenantHosts.tenantId))
    .where(inArray(tenantHosts.host, hosts));
  // Prefer the most specific match: the order of `hosts` is the order of preference.
  return hosts.map((h) => rows.find((r) => r.host === h)).find(Boolean);
}

export async function findTenantBySlug(db: GlobalDb | Tx, slug: string): Promise<Tenant | undefined> {
  const [row] = await db.select(columns).from(tenants).where(eq(tenants.slug, slug));
  return row;
}

export async function countTenants(db: GlobalDb | Tx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(tenants);
  return row?.n ?? 0;
}

export async function insertTenant(
  tx: Tx,
  input: { slug: string; displayName: string; issuer: string; hosts: string[] },
): Promise<Tenant> {
  const [row] = await tx.insert(tenants).values({ slug: input.slug, displayName: input.displayName, issuer: input.issuer }).returning(columns);
  const hosts = [...new Set(input.hosts.map(normalizeHost))];
  if (hosts.length) await tx.insert(tenantHosts).values(hosts.map((host) => ({ host, tenantId: row!.id })));
  return row!;
}

export async function listTenantHosts(db: GlobalDb, tenantId: TenantId): Promise<string[]> {
  const rows = await db.select({ host: tenantHosts.host }).from(tenantHosts).where(eq(tenantHosts.tenantId, tenantId)).orderBy(tenantHosts.host);
  return rows.map((r) => r.host);
}

/** Serializes tenant creation and first-start bootstrap across instances (transaction-scoped advisory lock). */
export async function lockTenancy(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${0x1a4d_0002})`);
}

/** Renames a tenant; `within` runs in the same transaction with the row before and after (the audit entry). */
export async function updateTenantDisplayName(
  db: GlobalDb,
  tenantId: TenantId,
  displayName: string,
  within: (tx: Tx, before: Tenant, after: Tenant) => Promise<void>,
): Promise<Tenant> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select(columns).from(tenants).where(eq(tenants.id, tenantId)).for('update');
    const [row] = await tx.update(tenants).set({ displayName }).where(eq(tenants.id, tenantId)).returning(columns);
    await within(tx, before!, row!);
    return row!;
  });
}
