/**
 * `npm run tenant:create -- --host acme.localhost [--host more.example] [--slug acme] [--name "Acme"] [--issuer URL]`
 * Creates a tenant with its own bootstrap machine client and prints the credentials once.
 */
import { parseArgs } from 'node:util';
import { loadDotEnv, loadConfig } from '../platform/config.ts';
import { runMigrations } from '../platform/db.ts';
import { keyring, loadMasterKey } from '../platform/crypto.ts';
import { DomainError } from '../platform/errors/domain.ts';
import { createTenant } from '../tenancy/tenants.global.ts';
import { cliDatabase } from './database.ts';
import { printCredentials } from './print.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', multiple: true },
    slug: { type: 'string' },
    name: { type: 'string' },
    issuer: { type: 'string' },
  },
});
const hosts = values.host ?? [];
if (!hosts.length) {
  process.stderr.write('usage: npm run tenant:create -- --host acme.localhost [--slug acme] [--name "Acme"] [--issuer http://acme.localhost:3000]\n');
  process.exit(2);
}
loadDotEnv();
const config = loadConfig();
const publicUrl = new URL(config.PUBLIC_URL);
const first = hosts[0]!;
// Default issuer: the PUBLIC_URL with the tenant's first host name (keeps scheme and port).
const issuer = values.issuer ?? `${publicUrl.protocol}//${first}${first.includes(':') || !publicUrl.port ? '' : `:${publicUrl.port}`}`;
const slug = values.slug ?? first.split(/[.:]/)[0]!.toLowerCase();

const { database, close } = await cliDatabase(config);
try {
  await runMigrations(database);
  const keys = keyring(await loadMasterKey(config.MASTER_KEY, config.DATA_DIR));
  const created = await createTenant(database.global, keys, { slug, displayName: values.name ?? slug, issuer: issuer.replace(/\/+$/, ''), hosts });
  printCredentials(created, { generated: true });
} catch (e) {
  if (e instanceof DomainError) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  } else throw e;
} finally {
  await close();
}
