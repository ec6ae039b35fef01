/**
 * SCIM errors, RFC 7644 §3.12, https://www.rfc-editor.org/rfc/rfc7644#section-3.12
 * One error type for the SCIM surface and one mapper, registered as the SCIM plugin's encapsulated error handler:
 * services throw domain errors, the filter parser throws ScimFilterError, Fastify throws its own; all of them leave
 * as `{schemas: [Error], status: "400", scimType?, detail}`. A client mistake is always a 4xx (an IdP retries a 500
 * for ever); a 500 means our bug and carries fixed text.
 */
import { TooManyAttempts } from '../platform/rate-limit.ts';
import { databaseUnavailable, DATABASE_RETRY_AFTER_SECONDS } from '../platform/db-errors.ts';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { Conflict, DomainError, Forbidden, Invalid, NotFound, PreconditionFailed } from '../platform/errors/domain.ts';
import { OAuthError, bearerChallenge } from '../platform/errors/oauth.ts';
import { ScimFilterError } from './filter/errors.ts';
import { ERROR_SCHEMA } from './schema/definitions.ts';
import { sendScim } from './media.ts';

/** RFC 7644 §3.12 Table 9. */
export const SCIM_TYPES = ['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive'] as const;
export type ScimType = (typeof SCIM_TYPES)[number];

export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  readonly detail: string;
  constructor(status: number, scimType: ScimType | undefined, detail: string) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    this.scimType = scimType;
    this.detail = detail;
  }
  body(): ScimErrorBody {
    return { schemas: [ERROR_SCHEMA], status: String(this.status), ...(this.scimType ? { scimType: this.scimType } : {}), detail: this.detail };
  }
}

export interface ScimErrorBody {
  schemas: string[];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, scimType, detail);

/** Which unique key a Conflict from the users or groups service names. */
const UNIQUE_FIELDS = new Set(['userName', 'email', 'displayName']);

/** Maps anything thrown under /scim/v2 to a ScimError; unknown errors become a fixed-text 500. */
export function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof ScimFilterError) return new ScimError(400, err.scimType, err.message);
  if (err instanceof DomainError) {
    if (err instanceof NotFound) return new ScimError(404, undefined, err.message);
    if (err instanceof Conflict) {
      const field = err.details?.field;
      return new ScimError(409, typeof field === 'string' && UNIQUE_FIELDS.has(field) ? 'uniqueness' : undefined, err.message);
    }
    if (err instanceof Invalid) return new ScimError(400, 'invalidValue', err.message);
    if (err instanceof Forbidden) return new ScimError(403, undefined, err.message);
    if (err instanceof PreconditionFailed) return new ScimError(412, undefined, err.message);
  }
  if (err instanceof OAuthError) return new ScimError(err.status, undefined, err.message);
  if (err instanceof TooManyAttempts) return new ScimError(429, undefined, `Too many failed authentication attempts; retry in ${err.retryAfterSeconds} s.`);
  // 40P01 deadlock_detected, 40001 serialization_failure: two concurrent changes met (e.g. a group PATCH bumping its
  // members' versions while one of them is deleted). Nothing was written; the client may retry at once.
  if (transactionConflict(err)) return new ScimError(409, undefined, 'The change met a concurrent change of the same resources and was not made; retry.');
  const fe = err as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fe)) {
    const first = fe.validation[0];
    const where = fe.validationContext === 'body' ? 'The request body' : `The ${fe.validationContext ?? 'request'}`;
    const at = first?.instancePath ? ` at ${first.instancePath}` : '';
    return new ScimError(400, fe.validationContext === 'body' ? 'invalidSyntax' : 'invalidValue', `${where} is not valid${at}: ${first?.message ?? 'invalid'}.`);
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ScimError(413, undefined, 'The request body is larger than this endpoint accepts (see maxPayloadSize in /ServiceProviderConfig).');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ScimError(415, undefined, 'Send application/scim+json (or application/json).');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ScimError(400, 'invalidSyntax', 'The JSON body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ScimError(400, 'invalidSyntax', 'Content-Length does not match the body.');
  }
  if (fe instanceof SyntaxError || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new ScimError(400, 'invalidSyntax', 'The body is not valid JSON.');
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ScimError(fe.statusCode, undefined, fe.message);
  if (databaseUnavailable(err)) return new ScimError(503, undefined, 'The service is temporarily unavailable; retry later.');
  return new ScimError(500, undefined, 'An unexpected error occurred. It has been logged.');
}

function transactionConflict(e: unknown): boolean {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (code === '40P01' || code === '40001') return true;
  }
  return false;
}

/** The SCIM plugin's error handler. 401/403 carry the RFC 6750 §3 challenge. */
export function scimErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const e = toScimError(err);
  if (e.status === 503) reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  else if (err instanceof TooManyAttempts) reply.header('Retry-After', String(err.retryAfterSeconds));
  else if (e.status >= 500) request.log.error({ err }, 'unhandled error');
  if (e.status === 401 || e.status === 403) {
    const requiredScope = (err as { requiredScope?: string }).requiredScope;
    reply.header('WWW-Authenticate', bearerChallenge(err instanceof OAuthError ? err : undefined, requiredScope));
  }
  return sendScim(request, reply.status(e.status), e.body());
}
