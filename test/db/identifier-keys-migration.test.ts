/**
 * The login-identifier migration against fixture data (STYLE §1.4, Hydra migratest): users written before it get
 * their keys from the backfill, a second user may then share an email, and the trigger refuses a userName that is
 * another user's email.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, inject } from 'vitest';
import pg from 'pg';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrationsFolder } from '../../src/platform/db.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const dbName = `iam_mig_${randomBytes(4).toString('hex')}`;
let admin: pg.Client;
let db: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${dbName}`;
  db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.end();
});

/** The migration files in journal order, each as its statements. */
async function migrations(): Promise<{ tag: string; statements: string[] }[]> {
  const journal = JSON.parse(await readFile(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const files = readMigrationFiles({ migrationsFolder });
  return journal.entries.map((e, i) => ({ tag: e.tag, statements: files[i]!.sql }));
}

it('existing users are keyed by the backfill; emails may then repeat; the cross rule holds for new writes', async () => {
  const all = await migrations();
  const at = all.findIndex((m) => m.tag.endsWith('login-identifier-keys'));
  expect(at).toBeGreaterThan(0);
  for (const m of all.slice(0, at)) for (const s of m.statements) await db.query(s);

  const tenant = (await db.query(`INSERT INTO tenants (slug, display_name, issuer) VALUES ('m', 'M', 'http://m.test') RETURNING id`)).rows[0].id;
  await db.query(`INSERT INTO users (tenant_id, user_name, email) VALUES ($1, 'Ada@Example.com', 'Ada@Example.com'), ($1, 'Grace', 'grace@example.com')`, [tenant]);

  // This migration and its trigger; later ones (roles, policies) are for the migrator, which makes the drizzle schema.
  for (const m of all.slice(at, at + 2)) for (const s of m.statements) await db.query(s);

  const rows = (await db.query(`SELECT user_name, user_name_key, email_key FROM users WHERE tenant_id = $1 ORDER BY user_name`, [tenant])).rows;
  expect(rows).toEqual([
    { user_name: 'Ada@Example.com', user_name_key: 'ada@example.com', email_key: 'ada@example.com' },
    { user_name: 'Grace', user_name_key: 'grace', email_key: 'grace@example.com' },
  ]);
  // Emails are not unique any more…
  await db.query(`INSERT INTO users (tenant_id, user_name, user_name_key, email, email_key) VALUES ($1, 'grace2', 'grace2', 'Grace@example.com', 'grace@example.com')`, [tenant]);
  // …but a userName may not be another user's email, nor an email another user's userName.
  await expect(db.query(`INSERT INTO users (tenant_id, user_name, user_name_key) VALUES ($1, 'GRACE@example.com', 'grace@example.com')`, [tenant])).rejects.toMatchObject({
    code: '23505',
    constraint: 'users_user_name_is_another_email',
  });
  await expect(db.query(`UPDATE users SET email = 'grace', email_key = 'grace' WHERE tenant_id = $1 AND user_name = 'grace2'`, [tenant])).rejects.toMatchObject({
    code: '23505',
    constraint: 'users_email_is_another_user_name',
  });
});
