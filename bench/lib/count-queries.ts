/**
 * Preloaded into our server (`node --import ./bench/lib/count-queries.ts src/server.ts`) to count the queries it
 * sends to PostgreSQL, without touching src/: every pg client query (drizzle, pg-pool and pg-boss all end there)
 * increments a counter, and SIGUSR2 prints it to stderr as `BENCH_QUERIES <count>`. The cost is one increment per query.
 */
import pg from 'pg';

let count = 0;
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  count++;
  return query.apply(this, args);
};
process.on('SIGUSR2', () => process.stderr.write(`BENCH_QUERIES ${count}\n`));
