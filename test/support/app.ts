/**
 * A built app on the run's database with a fresh tenant of its own (own host, own issuer, own bootstrap client).
 * Logs go to memory so tests can read them (redaction tests).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/platform/config.ts';
import { openDatabase, type Database } from '../../src/platform/db.ts';
import { keyring, type Keyring } from '../../src/platform/crypto.ts';
import { loggerOptions } from '../../src/platform/logging.ts';
import { createTenant, type CreatedTenant } from '../../src/tenancy/tenants.global.ts';
import type { FastifyInstance } from 'fastify';

export interface TestEnv {
  app: FastifyInstance;
  database: Database;
  keys: Keyring;
  config: Config;
  logs: string[];
  /** Creates another tenant on this app's database. */
  newTenant(): Promise<TestTenant>;
  close(): Promise<void>;
}

export interface TestTenant extends CreatedTenant {
  host: string;
}

export function testConfig(env: Record<string, string> = {}): Config {
  // The test IdPs listen on 127.0.0.1 over http: outbound fetches may reach loopback here, as in local development.
  return loadConfig({ DATABASE_URL: inject('databaseUrl'), MASTER_KEY: inject('masterKey'), TENANCY_MODE: 'multi', LOG_LEVEL: 'info', OUTBOUND_ALLOW_LOOPBACK: 'true', ...env });
}

/** `beforeReady`: runs between buildApp and ready, e.g. to define a pg-boss queue of the test's own. */
export async function testEnv(env: Record<string, string> = {}, { beforeReady, ...opts }: { now?: () => number; mailQueue?: string; beforeReady?: (app: FastifyInstance) => void } = {}): Promise<TestEnv> {
  const config = testConfig(env);
  const database = openDatabase(config.DATABASE_URL!, { max: 5 });
  const keys = keyring(Buffer.from(config.MASTER_KEY!, 'base64'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = pino(loggerOptions(config.LOG_LEVEL), sink);
  const app = await buildApp({ config, database, keyring: keys, logger, ...opts });
  beforeReady?.(app);
  await app.ready();
  return {
    app,
    database,
    keys,
    config,
    logs,
    newTenant: () => newTenant(database, keys),
    async close() {
      await app.close();
      await database.close();
    },
  };
}

export async function newTenant(database: Database, keys: Keyring, opts: { host?: string; issuer?: string } = {}): Promise<TestTenant> {
  const slug = `t-${randomBytes(5).toString('hex')}`;
  const host = opts.host ?? `${slug}.test`;
  const created = await createTenant(database.global, keys, { slug, displayName: `Tenant ${slug}`, issuer: opts.issuer ?? `http://${host}`, hosts: [host] });
  return { ...created, host };
}

export function basic(id: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

/** A client_credentials token for the tenant's bootstrap client, through the real token endpoint. */
export async function bootstrapToken(app: FastifyInstance, t: TestTenant, scope = 'iam/'): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: t.host, authorization: basic(t.clientId, t.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
  return res.json().access_token;
}

/**
 * A token signed by the tenant's real key, for cases the token endpoint will not produce (expired, foreign scopes).
 * Its kind follows `sub`: the client's id makes a client_credentials token, anything else a user token.
 */
export async function mintToken(
  env: TestEnv,
  tenant: CreatedTenant['tenant'],
  input: { sub: string; clientId: string; scopes: string[]; audiences: string[]; ttlSeconds: number; grantType?: 'client_credentials' | 'authorization_code' },
): Promise<{ token: string }> {
  const entry = await env.app.services.directory.client(tenant.id, input.clientId);
  const grantType = input.grantType ?? (input.sub === input.clientId ? 'client_credentials' : 'authorization_code');
  return env.app.services.tokens.issue(tenant, { ...input, grantType, clientInstance: entry?.client.instanceId ?? randomUUID() });
}
