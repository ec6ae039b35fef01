/** `npm run db:migrate`: apply pending migrations (safe beside running instances: same advisory lock). */
import { loadDotEnv, loadConfig } from '../platform/config.ts';
import { runMigrations } from '../platform/db.ts';
import { cliDatabase } from './database.ts';

const { database, close } = await cliDatabase((loadDotEnv(), loadConfig()));
try {
  await runMigrations(database);
  process.stdout.write('migrations applied\n');
} finally {
  await close();
}
