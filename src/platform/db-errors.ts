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
