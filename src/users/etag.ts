/**
 * Weak ETags from the row version, and If-Match. RFC 9110 §8.8.3 and §13.1.1,
 * https://www.rfc-editor.org/rfc/rfc9110#section-13.1.1
 * Deviation, as SCIM does (RFC 7644 §3.14): If-Match compares our weak ETags by their opaque value. The version
 * identifies the stored user exactly, which is what a strong comparison is meant to ensure.
 */
import { Invalid } from '../platform/errors/domain.ts';

export function weakEtag(version: number): string {
  return `W/"${version}"`;
}

/**
 * The version an If-Match header requires: undefined when absent or `*`; a number otherwise. A tag that is not one
 * of ours can never match, so it yields -1 (always 412, as RFC 9110 §13.1.1 asks).
 */
export function expectedVersion(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return undefined;
  const tags = value.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags.length !== 1) throw new Invalid('If-Match must name exactly one ETag, e.g. W/"3".', { header: 'If-Match' });
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(tags[0]!);
  return m ? Number(m[1]) : -1;
}
