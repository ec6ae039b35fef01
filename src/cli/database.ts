/** The database for command-line tools: DATABASE_URL, or the embedded cluster (joined if `npm start` is running it). */
import type { Config } from '../platform/config.ts';
import { openDatabase, type Database } from '../platform/db.ts';
import { startEmbeddedPostgres } from '../platform/embedded-postgres.ts';

export async function cliDatabase(config: Config): Promise<{ database: Database; close(): Promise<void> }> {
  if (config.DATABASE_URL) {
    const database = openDatabase(config.DATABASE_URL, { max: 2 });
    return { database, close: () => database.close() };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_PG_PORT, reuseRunning: true });
  const database = openDatabase(embedded.url(), { max: 2 });
  return {
    database,
    async close() {
      await database.close();
      await embedded.stop();
    },
  };
}
