/**
 * PostgreSQL error codes the management API turns into answers, PostgreSQL Appendix A,
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 * Drizzle wraps driver errors (DrizzleQueryError, whose message holds the query parameters, so it is never shown);
 * these helpers look through `cause` for the driver's error.
 */
interface PgError {
  code?: string;
  constraint?: string;
}

function pgErrorOf(e: unknown): PgError | undefined {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as PgError).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return cur as PgError;
  }
  return undefined;
}

/** `23505 unique_violation`: the name of the violated constraint or index, else undefined. */
export function uniqueViolation(e: unknown): string | undefined {
  const pg = pgErrorOf(e);
  return pg?.code === '23505' ? (pg.constraint ?? '') : undefined;
}

/** `23503 foreign_key_violation`: the name of the violated constraint, else undefined. */
export function foreignKeyViolation(e: unknown): string | undefined {
  const pg = pgErrorOf(e);
  return pg?.code === '23503' ? (pg.constraint ?? '') : undefined;
}

/** Network codes of a refused or broken connection (node-postgres passes the socket's error through). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/**
 * The database cannot be reached (class 08 connection exceptions, 57P01–57P03 shutdown and start-up, a refused
 * socket, a pool timeout): the answer is 503 with `Retry-After`, not a 500 — the client did nothing wrong and a retry
 * may succeed.
 */
export function databaseUnavailable(e: unknown): boolean {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const { code, message } = cur as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (UNREACHABLE.has(code) || /^08/.test(code) || /^57P0[123]$/.test(code))) return true;
    // pg's words for a connection that broke under a client (a restart), and for using that client afterwards.
    if (typeof message === 'string' && /^(timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error and is not queryable)/.test(message)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
