/**
 * Problem Details for HTTP APIs, RFC 9457 §3, https://www.rfc-editor.org/rfc/rfc9457#section-3
 * `/api` answers every error as `application/problem+json`; this module builds those bodies from whatever was thrown.
 * `title` is the status's reason phrase (every 400 is "Bad Request"); `type` and `detail` say which problem it is.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, Conflict, Forbidden, Gone, Invalid, NotFound, PreconditionFailed, TooManyRequests } from './domain.ts';
import { OAuthError, bearerChallenge } from './oauth.ts';
import { databaseUnavailable, DATABASE_RETRY_AFTER_SECONDS } from '../db-errors.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://iam.invalid/problems/';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export class Problem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extensions: Record<string, unknown>;
  constructor(status: number, slug: string, title: string, detail?: string, extensions: Record<string, unknown> = {}) {
    super(detail ?? title);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.extensions = extensions;
  }
  body(instance?: string): ProblemBody {
    return {
      type: `${TYPE_BASE}${this.slug}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

const DOMAIN_STATUS = new Map<Function, [number, string, string]>([
  [NotFound, [404, 'not-found', 'Not Found']],
  [Conflict, [409, 'conflict', 'Conflict']],
  [Invalid, [400, 'invalid-request', 'Bad Request']],
  [Forbidden, [403, 'forbidden', 'Forbidden']],
  [PreconditionFailed, [412, 'precondition-failed', 'Precondition Failed']],
  [TooManyRequests, [429, 'too-many-requests', 'Too Many Requests']],
  [Gone, [410, 'gone', 'Gone']],
]);

/** Maps anything thrown in an `/api` route to a Problem; unknown errors become a fixed-text 500. */
export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof DomainError) {
    // instanceof, not the exact class: a subclass (InvalidCharacters) maps like its parent.
    const [status, slug, title] = [...DOMAIN_STATUS].find(([type]) => err instanceof type)?.[1] ?? [500, 'internal', 'Internal Server Error'];
    return new Problem(status, slug, title, err.message, err.details ?? {});
  }
  if (err instanceof OAuthError) {
    const slug = err.error.replace(/_/g, '-');
    return new Problem(err.status, slug, err.status === 401 ? 'Unauthorized' : 'Forbidden', err.message, { error: err.error });
  }
  const fe = err as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fe)) {
    const errors = fe.validation.map((v) => ({
      location: fe.validationContext ?? 'body',
      path: v.instancePath || '/',
      code: v.keyword,
      message: v.message ?? 'invalid',
      ...v.params,
    }));
    return new Problem(400, 'validation', 'Bad Request', `The ${fe.validationContext ?? 'request'} is not valid.`, { errors });
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new Problem(413, 'payload-too-large', 'Payload Too Large', 'The request body is larger than the service accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new Problem(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new Problem(400, 'malformed-body', 'Bad Request', 'The JSON body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new Problem(400, 'malformed-body', 'Bad Request', 'Content-Length does not match the body.');
  }
  if (fe instanceof SyntaxError || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new Problem(400, 'malformed-body', 'Bad Request', 'The body is not valid JSON.');
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new Problem(fe.statusCode, 'client-error', STATUS_CODES[fe.statusCode] ?? 'Bad Request', fe.message);
  }
  if (databaseUnavailable(err)) return new Problem(503, 'unavailable', 'Service Unavailable', 'The service is temporarily unavailable; retry later.');
  return new Problem(500, 'internal', 'Internal Server Error', 'An unexpected error occurred. It has been logged.');
}

/** The error handler for `/api` contexts. */
export function problemErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(err);
  if (problem.status === 503) reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  else if (problem.status >= 500) request.log.error({ err }, 'unhandled error');
  if (problem.status === 401 || problem.status === 403) {
    const oauth = err instanceof OAuthError ? err : undefined;
    const requiredScope = (err as { requiredScope?: string }).requiredScope;
    reply.header('WWW-Authenticate', bearerChallenge(oauth, requiredScope));
  }
  return reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.body(request.url.split('?')[0]));
}
