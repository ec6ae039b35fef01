/**
 * pino options: one line per request (tenant, client, status, duration), nothing secret in any line.
 * Redaction covers headers and any logged object fields that carry credentials.
 */
import type { FastifyInstance } from 'fastify';
import type { LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["proxy-authorization"]',
  '*.headers["set-cookie"]',
  '*.password',
  '*.client_secret',
  '*.clientSecret',
  '*.secret',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.token',
  'password',
  'client_secret',
  'clientSecret',
  'secret',
  'token',
];

/** Properties of driver errors that carry values from the query (pg: `detail` names the duplicate key's value). */
const VALUE_BEARING = new Set(['params', 'detail', 'internalQuery', 'where']);

/**
 * Errors in logs: type, message, stack, code and the `cause` chain, never the values a query was given. Drizzle's
 * DrizzleQueryError writes "Failed query: … params: …" into its message (a password hash, a secret's hash); the
 * query text stays, its parameters go. PostgreSQL's own messages quote the offending input at their end
 * (`invalid input syntax for type uuid: "…"`); that quote is censored too.
 */
export function errorForLog(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 5) return err;
  const hasParams = Array.isArray((err as { params?: unknown }).params);
  const isDriverError = typeof (err as { severity?: unknown }).severity === 'string' && /^[0-9A-Z]{5}$/.test(String((err as { code?: unknown }).code));
  let message = err.message;
  if (hasParams) message = message.replace(/\nparams: [\s\S]*$/, '');
  if (isDriverError) message = message.replace(/: ".*"$/s, ': "[redacted]"');
  const stack = err.stack?.includes(err.message) ? err.stack.replace(err.message, message) : err.stack;
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message, stack };
  for (const [k, v] of Object.entries(err)) {
    if (VALUE_BEARING.has(k) || k === 'cause' || k in out) continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  }
  if (err.cause !== undefined) out.cause = errorForLog(err.cause, depth + 1);
  return out;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: errorForLog,
      // Only id, method and path: headers and query strings carry credentials.
      req: (req: { method?: string; url?: string; id?: string }) => ({ id: req.id, method: req.method, path: req.url?.split('?')[0] }),
    },
  };
}

/** Replaces Fastify's two request lines with one line at completion. */
export function requestLogging(app: FastifyInstance) {
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        // The query string can carry codes and tokens (RFC 6749 §4.1.2); only the path is logged.
        path: request.url.split('?')[0],
        tenant: request.tenant?.slug,
        clientId: request.clientId ?? undefined,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
    done();
  });
}
