/**
 * The database: two pg pools, Drizzle over them, migrations, and `forTenant` — the only handle capabilities get.
 *
 * Row-level security is the second wall behind `TenantScope`'s filters (docs/adr/0008-row-level-security.md). The
 * service's connections run as `iam_app` (the `role` startup parameter, so a connection that cannot take the role
 * fails instead of running as its login user); every tenant-owned table's policy shows `iam_app` only the rows of
 * the tenant in the session setting `app.tenant_id`. A tenant scope sets it on the connection it checks out (once per
 * connection and tenant: the setting stays until another tenant's scope uses that connection); the unscoped handle
 * clears it, so its queries see no tenant's rows. `Database.global` is the one bypass: a small pool running as
 * `iam_global`, which the policies let see every tenant, for the `*.global.ts` files (Host → tenant, tenant
 * creation, cross-tenant jobs). Migrations run as the login user (the owner) on a connection of their own.
 */
import { fileURLToPath } from 'node:url';
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgColumn, PgTable, PgUpdateSetSource, SelectedFields } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from '../db/schema/index.ts';
import type { TenantId } from './tenancy/tenant.ts';
import { BoundedMap } from './bounded-map.ts';

export type Db = NodePgDatabase<typeof schema>;
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** The bypass handle (role `iam_global`): sees every tenant's rows. Only `*.global.ts` files take it. */
export type GlobalDb = Db & { readonly __global: true };
type Handle = Db | Tx;

/** The roles the service's connections run as; the row-level-security migration creates both. */
export const APP_ROLE = 'iam_app';
export const GLOBAL_ROLE = 'iam_global';
/** The session setting the policies read (`iam_current_tenant()` in the migration). */
const TENANT_SETTING = 'app.tenant_id';
/** The directory partition of users and groups (`iam_current_directory()`, ADR 0010); '' is the tenant's own. */
const DIRECTORY_SETTING = 'app.directory_id';

/**
 * Tables partitioned by directory (ADR 0010): a directory's SCIM records live beside the tenant's own users and
 * groups, told apart by `directory_id` (NULL for the tenant's own). A scope sees and writes only its own partition.
 */
const DIRECTORY_PARTITIONED: ReadonlySet<string> = new Set(['users', 'groups', 'group_members', 'user_emails']);
const ORIGINAL_NAME = Symbol.for('drizzle:OriginalName');

function partitionColumn(table: TenantTable): PgColumn | undefined {
  const name = (table as unknown as Record<symbol, string>)[ORIGINAL_NAME];
  return name && DIRECTORY_PARTITIONED.has(name) ? (table as unknown as { directoryId: PgColumn }).directoryId : undefined;
}

export const migrationsFolder = fileURLToPath(new URL('../db/migrations', import.meta.url));

export interface Database {
  /** The login URL: migrations connect with it as they are (the owner), without a role. */
  url: string;
  /** The service's pool; its connections run as `iam_app`. */
  pool: pg.Pool;
  /** Unscoped handle on `pool`, for `forTenant`: its own queries see no tenant's rows (the setting is cleared). */
  db: Db;
  /** The bypass for `*.global.ts`: a small pool running as `iam_global`. */
  global: GlobalDb;
  /** The pool under `global`; only its counters are read outside this file (metrics). */
  globalPool: pg.Pool;
  close(): Promise<void>;
}

function newPool(url: string, role: string, max: number, applicationName: string): pg.Pool {
  // `-c role=…` is applied at connection start: a login that may not take the role gets no connection at all.
  // A request waits at most 5 s for a connection: during an outage it gets a 503 instead of hanging.
  const pool = new pg.Pool({ connectionString: url, max, application_name: applicationName, options: `-c role=${role}`, connectionTimeoutMillis: 5_000 });
  // An idle client losing its server must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor a checked-out one: pg-pool takes its own listener off a client it hands out, so a server that goes away while
  // a transaction holds the client between statements (a PostgreSQL restart under load: bench:soak) emitted 'error'
  // with nobody listening, which ended the process. The transaction's next statement fails and rolls back anyway.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** The tenant and partition each open connection of the service's pool is set to ('' for none: a new connection has none). */
const tenantOfConnection = new WeakMap<pg.PoolClient, string>();

/**
 * pg's Pool as Drizzle uses it (`query`, and `connect` for transactions), setting `app.tenant_id` on each connection
 * it hands out to one tenant, or clearing it (`tenant` ''). The setting is session-level and remembered per
 * connection, so a pool serving one tenant pays no extra round trip; a connection last used by another tenant pays
 * one. The class name must contain "Pool": that is how Drizzle's `transaction` recognises a pool and checks out one
 * connection for the whole transaction.
 */
class TenantPool {
  readonly #pool: pg.Pool;
  readonly #tenant: string;
  readonly #directory: string;
  readonly #key: string;
  constructor(pool: pg.Pool, tenant: string, directory = '') {
    this.#pool = pool;
    this.#tenant = tenant;
    this.#directory = directory;
    this.#key = directory ? `${tenant}/${directory}` : tenant;
  }

  async connect(): Promise<pg.PoolClient> {
    const client = await this.#pool.connect();
    if ((tenantOfConnection.get(client) ?? '') === this.#key) return client;
    try {
      await client.query('SELECT set_config($1, $2, false), set_config($3, $4, false)', [TENANT_SETTING, this.#tenant, DIRECTORY_SETTING, this.#directory]);
    } catch (e) {
      client.release(e as Error);
      throw e;
    }
    tenantOfConnection.set(client, this.#key);
    return client;
  }

  async query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    const client = await this.connect();
    try {
      const result = await client.query(config, values);
      client.release();
      return result;
    } catch (e) {
      // As pg's own `pool.query`: a failed query's connection is not reused.
      client.release(e as Error);
      throw e;
    }
  }
}

/** Per unscoped handle (`Database.db` and `.global`): its service pool and the Drizzle instance of each tenant. */
const scopedHandles = new WeakMap<Db, { pool: pg.Pool; tenants: BoundedMap<string, Db> }>();
/** Drizzle instances kept per instance, one per tenant (and directory partition) in use: least recently used go first. */
export const TENANT_HANDLES_MAX = 100_000;

/**
 * Without `schema`: nothing here uses Drizzle's relational `db.query` API, and the relational config it builds from
 * the schema costs ~22 KiB and ~200 µs per instance, one instance per tenant in use (10,000 tenants: 220 MB).
 */
function tenantDb(pool: pg.Pool, tenant: string, directory = ''): Db {
  return drizzle({ client: new TenantPool(pool, tenant, directory) as unknown as pg.Pool, casing: undefined }) as unknown as Db;
}

export function openDatabase(url: string, opts: { max?: number; applicationName?: string } = {}): Database {
  const name = opts.applicationName ?? 'iam';
  const pool = newPool(url, APP_ROLE, opts.max ?? 10, name);
  const globalPool = newPool(url, GLOBAL_ROLE, 2, `${name}-global`);
  const db = tenantDb(pool, '');
  const global = drizzle({ client: globalPool, schema, casing: undefined }) as unknown as GlobalDb;
  const handles = { pool, tenants: new BoundedMap<string, Db>(TENANT_HANDLES_MAX) };
  scopedHandles.set(db, handles);
  scopedHandles.set(global, handles);
  return { url, pool, db, global, globalPool, close: async () => void (await Promise.all([pool.end(), globalPool.end()])) };
}

// Any constant works; it only has to be the same for every instance of this service.
const MIGRATION_LOCK = 0x1a4d_0001;

/**
 * Applies pending migrations once, even when several instances start together (session advisory lock). They run as
 * the login user (the tables' owner) on a connection of their own: the service's pools cannot connect before the
 * first migration has created their roles.
 */
export async function runMigrations(database: Pick<Database, 'url'>): Promise<void> {
  const client = new pg.Client({ connectionString: database.url, application_name: 'iam-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    await client.end();
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
 * `tenant_id`. There is no method that takes a table without adding the tenant, and underneath, row-level security
 * limits the connection to the same tenant.
 */
export class TenantScope {
  readonly tenantId: TenantId;
  /** True inside `transaction()`: in-transaction events (src/events) may only be published there. */
  readonly inTransaction: boolean;
  /** The directory partition of users and groups this scope sees (ADR 0010); null: the tenant's own. */
  readonly directoryId: string | null;
  readonly #h: Handle;
  constructor(handle: Handle, tenantId: TenantId, inTransaction = false, directoryId: string | null = null) {
    this.#h = handle;
    this.tenantId = tenantId;
    this.inTransaction = inTransaction;
    this.directoryId = directoryId;
  }

  /** `tenant_id = $tenant AND …conditions` for `table` (and its directory partition, where it has one). */
  where(table: TenantTable, ...conditions: (SQL | undefined)[]): SQL {
    return and(eq(table.tenantId, this.tenantId), this.#partition(table), ...conditions)!;
  }

  #partition(table: TenantTable): SQL | undefined {
    const column = partitionColumn(table);
    if (!column) return undefined;
    return this.directoryId ? eq(column, this.directoryId) : isNull(column);
  }

  /**
   * The ON condition joining `table` to `from` (a table already in the query) within this tenant:
   * `table.tenant_id = from.tenant_id AND table.tenant_id = $tenant AND …on`. Joins use this rather than writing
   * the tenant condition by hand.
   */
  on(table: TenantTable, from: TenantTable, ...on: (SQL | undefined)[]): SQL {
    return and(eq(table.tenantId, from.tenantId), eq(table.tenantId, this.tenantId), this.#partition(table), ...on)!;
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
    const partitioned = partitionColumn(table) !== undefined;
    const list = (Array.isArray(rows) ? rows : [rows]).map((r) => ({ ...r, tenantId: this.tenantId, ...(partitioned ? { directoryId: this.directoryId } : {}) }));
    return this.#h.insert(table).values(list as T['$inferInsert'][]);
  }

  /** `set` cannot name `tenantId`: a row never moves to another tenant (checked here, and by the policy's WITH CHECK). */
  update<T extends TenantTable>(table: T, set: Omit<PgUpdateSetSource<T>, 'tenantId'>, ...conditions: (SQL | undefined)[]) {
    if (Object.hasOwn(set, 'tenantId')) throw new TypeError('TenantScope.update cannot change tenantId');
    if (Object.hasOwn(set, 'directoryId') && partitionColumn(table)) throw new TypeError('TenantScope.update cannot move a row to another directory partition');
    return this.#h.update(table).set(set as PgUpdateSetSource<T>).where(this.where(table, ...conditions));
  }

  delete<T extends TenantTable>(table: T, ...conditions: (SQL | undefined)[]) {
    return this.#h.delete(table).where(this.where(table, ...conditions));
  }

  /**
   * Raw SQL within this tenant. Write the tenant condition anyway (`where`); row-level security keeps even a query
   * that forgets it to this tenant's rows.
   */
  execute(query: SQL) {
    return this.#h.execute(query);
  }

  /** `pg_notify(channel, payload + tenantId)`; inside a transaction it is delivered at commit. */
  async notify(channel: string, payload: Record<string, unknown>): Promise<void> {
    await this.#h.execute(sql`SELECT pg_notify(${channel}, ${JSON.stringify({ ...payload, tenantId: this.tenantId })})`);
  }

  /** Runs `fn` in one transaction whose scope is this tenant (and this scope's partition). */
  transaction<R>(fn: (scope: TenantScope) => Promise<R>): Promise<R> {
    return this.#h.transaction((tx) => fn(new TenantScope(tx, this.tenantId, true, this.directoryId)));
  }

  /**
   * Runs `fn` inside this transaction with the scope of another partition (null: the tenant's own users), then
   * returns to this one: linking a directory's user to a tenant user is one commit (ADR 0010). The setting is
   * transaction-local, so the connection is back in its own partition at commit or rollback whatever happens.
   */
  async inPartition<R>(directoryId: string | null, fn: (scope: TenantScope) => Promise<R>): Promise<R> {
    if (!this.inTransaction) throw new Error('inPartition needs a transaction');
    if (directoryId === this.directoryId) return fn(this);
    await this.#h.execute(sql`SELECT set_config(${DIRECTORY_SETTING}, ${directoryId ?? ''}, true)`);
    try {
      return await fn(new TenantScope(this.#h, this.tenantId, true, directoryId));
    } finally {
      await this.#h.execute(sql`SELECT set_config(${DIRECTORY_SETTING}, ${this.directoryId ?? ''}, true)`);
    }
  }
}

/** One Drizzle instance per tenant (and directory partition), kept: scopes are made on every request, cached ones too. */
function handleOf(handles: { pool: pg.Pool; tenants: BoundedMap<string, Db> }, tenantId: string, directoryId = ''): Db {
  const key = directoryId ? `${tenantId}/${directoryId}` : tenantId;
  let db = handles.tenants.get(key);
  if (!db) {
    db = tenantDb(handles.pool, tenantId, directoryId);
    handles.tenants.set(key, db);
  }
  return db;
}

/**
 * The scope of one tenant. On `Database.db` or `.global` it runs on the service's pool as `iam_app` with the tenant
 * set, so row-level security applies; on a transaction it joins that transaction as it is (inside a global one, e.g.
 * tenant creation, only the scope's filters apply).
 */
export function forTenant(handle: Db | Tx, tenantId: TenantId): TenantScope {
  const handles = scopedHandles.get(handle as Db);
  if (!handles) return new TenantScope(handle, tenantId);
  return new TenantScope(handleOf(handles, tenantId), tenantId);
}

/**
 * The scope of one directory's partition of users and groups (ADR 0010): its SCIM endpoint and the Directory API.
 * Everything else it reads or writes is the tenant's, as with `forTenant`.
 */
export function forDirectory(handle: Db, tenantId: TenantId, directoryId: string): TenantScope {
  const handles = scopedHandles.get(handle);
  if (!handles) throw new Error('forDirectory needs the service handle');
  return new TenantScope(handleOf(handles, tenantId, directoryId), tenantId, false, directoryId);
}

/** The scope factory capabilities receive (`scopeFor(request.tenant.id)`). */
export type ScopeFor = (tenantId: TenantId) => TenantScope;
