/**
 * The database: one pg pool, Drizzle over it, migrations, and `forTenant` — the only handle capabilities get.
 * The raw `Db` stays in platform/ and in `*.global.ts` files, where every unscoped query is visible in review.
 */
import { fileURLToPath } from 'node:url';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgColumn, PgTable, PgUpdateSetSource, SelectedFields } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from '../db/schema/index.ts';

export type Db = NodePgDatabase<typeof schema>;
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Handle = Db | Tx;

export const migrationsFolder = fileURLToPath(new URL('../db/migrations', import.meta.url));

export interface Database {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export function openDatabase(url: string, opts: { max?: number; applicationName?: string } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, application_name: opts.applicationName ?? 'iam' });
  // An idle client losing its server must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = drizzle({ client: pool, schema, casing: undefined });
  return { pool, db, close: () => pool.end() };
}

// Any constant works; it only has to be the same for every instance of this service.
const MIGRATION_LOCK = 0x1a4d_0001;

/** Applies pending migrations once, even when several instances start together (session advisory lock). */
export async function runMigrations(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** True when the newest migration shipped with this build is recorded as applied. */
export async function migrationsApplied(pool: pg.Pool): Promise<boolean> {
  const files = readMigrationFiles({ migrationsFolder });
  const newest = files.at(-1);
  if (!newest) return true;
  try {
    const r = await pool.query('SELECT 1 FROM drizzle.__drizzle_migrations WHERE hash = $1', [newest.hash]);
    return r.rowCount === 1;
  } catch {
    return false;
  }
}

type TenantTable = PgTable & { tenantId: PgColumn };

/**
 * A database handle bound to one tenant: every read and write it builds is filtered by, or stamped with,
 * `tenant_id`. There is no method that takes a table without adding the tenant.
 */
export class TenantScope {
  readonly tenantId: string;
  /** True inside `transaction()`: in-transaction events (src/events) may only be published there. */
  readonly inTransaction: boolean;
  readonly #h: Handle;
  constructor(handle: Handle, tenantId: string, inTransaction = false) {
    this.#h = handle;
    this.tenantId = tenantId;
    this.inTransaction = inTransaction;
  }

  /** `tenant_id = $tenant AND …conditions` for `table`. */
  where(table: TenantTable, ...conditions: (SQL | undefined)[]): SQL {
    return and(eq(table.tenantId, this.tenantId), ...conditions)!;
  }

  select<T extends TenantTable>(table: T, ...conditions: (SQL | undefined)[]) {
    // Drizzle's `from` guards against subqueries with a conditional type that cannot resolve for a generic table.
    // @ts-expect-error T is always a plain table here
    return this.#h.select().from(table).where(this.where(table, ...conditions));
  }

  /**
   * Chosen columns (and joins the caller adds) of this tenant's rows of `table`: for wide tables whose callers need a
   * few columns, e.g. the 50,000 members of a SCIM group.
   */
  selectFields<T extends TenantTable, F extends SelectedFields>(fields: F, table: T, ...conditions: (SQL | undefined)[]) {
    // @ts-expect-error T is always a plain table here (as in `select`)
    return this.#h.select(fields).from(table).where(this.where(table, ...conditions));
  }

  /** `count(*)` of this tenant's rows of `table` matching `conditions`, computed by PostgreSQL. */
  async count(table: TenantTable, ...conditions: (SQL | undefined)[]): Promise<number> {
    const [row] = await this.#h
      .select({ n: sql<number>`count(*)::int` })
      .from(table as PgTable)
      .where(this.where(table, ...conditions));
    return row?.n ?? 0;
  }

  insert<T extends TenantTable>(table: T, rows: Omit<T['$inferInsert'], 'tenantId'> | Omit<T['$inferInsert'], 'tenantId'>[]) {
    const list = (Array.isArray(rows) ? rows : [rows]).map((r) => ({ ...r, tenantId: this.tenantId }));
    return this.#h.insert(table).values(list as T['$inferInsert'][]);
  }

  update<T extends TenantTable>(table: T, set: PgUpdateSetSource<T>, ...conditions: (SQL | undefined)[]) {
    return this.#h.update(table).set(set).where(this.where(table, ...conditions));
  }

  delete<T extends TenantTable>(table: T, ...conditions: (SQL | undefined)[]) {
    return this.#h.delete(table).where(this.where(table, ...conditions));
  }

  /** `pg_notify(channel, payload + tenantId)`; inside a transaction it is delivered at commit. */
  async notify(channel: string, payload: Record<string, unknown>): Promise<void> {
    await this.#h.execute(sql`SELECT pg_notify(${channel}, ${JSON.stringify({ ...payload, tenantId: this.tenantId })})`);
  }

  /** Runs `fn` in one transaction whose scope is this tenant. */
  transaction<R>(fn: (scope: TenantScope) => Promise<R>): Promise<R> {
    return this.#h.transaction((tx) => fn(new TenantScope(tx, this.tenantId, true)));
  }
}

export function forTenant(db: Db | Tx, tenantId: string): TenantScope {
  return new TenantScope(db, tenantId);
}
