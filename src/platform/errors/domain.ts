/**
 * Errors that services throw. They carry no protocol: each plugin's error handler maps them to OAuth, SCIM or
 * RFC 9457 problems, which is how one service serves `/api` and `/scim/v2` alike.
 */
export class DomainError extends Error {
  readonly details: Record<string, unknown> | undefined;
  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}
export class NotFound extends DomainError {}
export class Conflict extends DomainError {}
export class Invalid extends DomainError {}
export class Forbidden extends DomainError {}
/** The stored version differs from the one the caller saw (If-Match). */
export class PreconditionFailed extends DomainError {}
/** An abuse limit was reached (e.g. invitations per organization per day); `details.retryAfterSeconds` when known. */
export class TooManyRequests extends DomainError {}
/** What the caller refers to existed once and is gone for good (e.g. a feed cursor past retention). */
export class Gone extends DomainError {}
