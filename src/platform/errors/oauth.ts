/**
 * OAuth 2.0 errors: one class per RFC code, one serializer.
 * Token endpoint errors: RFC 6749 §5.2, https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * Bearer token errors: RFC 6750 §3.1, https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export class OAuthError extends Error {
  readonly error: string;
  readonly status: number;
  constructor(error: string, description: string | undefined, status: number) {
    super(description ?? error);
    this.error = error;
    this.status = status;
  }
  /** Errors below 500 are the client's and are shown as they are; anything else becomes `server_error`. */
  get expose(): boolean {
    return this.status < 500;
  }
  toJSON(): { error: string; error_description?: string } {
    return this.message && this.message !== this.error ? { error: this.error, error_description: this.message } : { error: this.error };
  }
}

const code = (error: string, status: number) =>
  class extends OAuthError {
    constructor(description?: string) {
      super(error, description, status);
    }
  };

export const InvalidRequest = code('invalid_request', 400);
/** RFC 6749 §5.2: 401 when the client tried to authenticate; the route adds `WWW-Authenticate` for Basic. */
export const InvalidClient = code('invalid_client', 401);
export const InvalidGrant = code('invalid_grant', 400);
export const UnauthorizedClient = code('unauthorized_client', 400);
export const UnsupportedGrantType = code('unsupported_grant_type', 400);
export const InvalidScope = code('invalid_scope', 400);
export const TemporarilyUnavailable = code('temporarily_unavailable', 503);
export const ServerError = code('server_error', 500);

/** RFC 6750 §3.1 */
export const InvalidToken = code('invalid_token', 401);
export const InsufficientScope = code('insufficient_scope', 403);
/** RFC 6750 §3.1: a request without credentials gets a challenge with no error code. */
export class MissingToken extends InvalidToken {}

/** RFC 6750 §3: the challenge sent with 401 and 403 answers from protected resources. */
export function bearerChallenge(e: OAuthError | undefined, scope?: string): string {
  const parts = ['Bearer realm="iam"'];
  if (e && !(e instanceof MissingToken)) {
    parts.push(`error="${e.error}"`);
    if (e.message && e.message !== e.error) parts.push(`error_description="${e.message.replace(/["\\]/g, '')}"`);
  }
  if (scope) parts.push(`scope="${scope}"`);
  return parts.join(', ');
}
