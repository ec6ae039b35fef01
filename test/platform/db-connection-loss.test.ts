/**
 * A connection lost under the service (found by bench:soak, a PostgreSQL restart under load): a client the pool had
 * handed out, held by a transaction between statements, emitted 'error' with nobody listening, which ended the
 * process; and pg's "not queryable" error afterwards was not seen as the database being unavailable (a 500).
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { databaseUnavailable } from '../../src/platform/db-errors.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv();
});
afterAll(() => env.close());

it('a transaction whose connection is terminated between statements fails, as unavailable, and the process lives on', async () => {
  const t = await env.newTenant();
  const scope = forTenant(env.database.db, t.tenant.id);
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  let failure: unknown;
  try {
    await scope.transaction(async (tx) => {
      const pid = ((await tx.execute(sql`SELECT pg_backend_pid() AS pid`)) as unknown as { rows: { pid: number }[] }).rows[0]!.pid;
      // The server goes away while this transaction holds the client and runs no statement (FATAL 57P01 arrives idle).
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((r) => setTimeout(r, 200));
      await tx.execute(sql`SELECT 1`);
    });
  } catch (e) {
    failure = e;
  } finally {
    await admin.end();
  }
  expect(failure).toBeDefined();
  expect(databaseUnavailable(failure)).toBe(true);
  // The pool dropped the broken client: the next statements work.
  expect(((await scope.execute(sql`SELECT 1 AS one`)) as unknown as { rows: { one: number }[] }).rows[0]!.one).toBe(1);
});

it("pg's words for a broken connection count as the database being unavailable (503), others do not", () => {
  expect(databaseUnavailable(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
  expect(databaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
  expect(databaseUnavailable(new Error('duplicate key value violates unique constraint'))).toBe(false);
});
