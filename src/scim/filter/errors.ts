/**
 * The error raised for malformed SCIM filters and PATCH paths. `scimType` is the RFC 7644 §3.12 (Table 9) code the
 * HTTP layer returns with status 400: `invalidFilter` for `filter=` (§3.4.2.2), `invalidPath` for PATCH `path`
 * (§3.5.2). https://www.rfc-editor.org/rfc/rfc7644#section-3.12
 */
export type ScimFilterErrorType = 'invalidFilter' | 'invalidPath';

export class ScimFilterError extends Error {
  readonly scimType: ScimFilterErrorType;
  /** 0-based UTF-16 offset into the input where the problem was found. */
  readonly position: number;
  /** The message without the "Invalid filter at position N: " prefix. */
  readonly detail: string;
  constructor(scimType: ScimFilterErrorType, position: number, detail: string) {
    super(`Invalid ${scimType === 'invalidFilter' ? 'filter' : 'path'} at position ${position}: ${detail}`);
    this.name = 'ScimFilterError';
    this.scimType = scimType;
    this.position = position;
    this.detail = detail;
  }
}
