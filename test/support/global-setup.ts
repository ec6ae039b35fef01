/**
 * One real PostgreSQL for the whole run: DATABASE_URL's server when set, otherwise embedded PostgreSQL under
 * .data/test-postgres. Each run gets a fresh database, migrated once; test files isolate themselves by tenant.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/platform/embedded-postgres.ts';
import { openDatabase, runMigrations } from '../../src/platform/db.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
    masterKey: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

let embedded: EmbeddedServer | undefined;
let dataDir: string | undefined;
let adminUrl: string;
let dbName: string;

export async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) adminUrl = process.env.DATABASE_URL;
  else {
    // A cluster of its own per run: concurrent runs on one machine must not share a data folder.
    dataDir = await mkdtemp(path.join(tmpdir(), 'iam-test-pg-'));
    embedded = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    adminUrl = embedded.url();
  }
  dbName = `iam_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const database = openDatabase(url.toString());
  await runMigrations(database);
  await database.close();
  project.provide('databaseUrl', url.toString());
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('masterKey', randomBytes(32).toString('base64'));
}

export async function teardown() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
