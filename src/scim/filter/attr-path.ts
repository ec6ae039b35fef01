/**
 * `attrPath = [URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.4.2.2, Figure 1) with ATTRNAME from RFC 7643 §2.1.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 *
 * Schema URNs contain dots (`...:enterprise:2.0:User`), so the split is: the URI is everything before the LAST ':',
 * and only the part after it is split on its first '.' into attribute and sub-attribute.
 * Note the grammar is ambiguous for a bare URN such as `urn:...:2.0:User`, which reads as schema `urn:...:2.0`
 * plus attribute `User`; only a schema-aware layer can tell, so this module does not try.
 */
import type { AttrPath } from './ast.ts';

const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`. */
export function isAttrName(s: string): boolean {
  if (s.length === 0 || !isAlpha(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlpha(c) && !isDigit(c) && c !== 0x2d && c !== 0x5f) return false;
  }
  return true;
}

/** Sub-attribute names additionally admit `$ref`, the one name RFC 7643 §2.1 exempts from ATTRNAME (e.g. `members.$ref`). */
export function isSubAttrName(s: string): boolean {
  return isAttrName(s) || s.toLowerCase() === '$ref';
}

/**
 * A schema URI: `scheme ":" rest` (RFC 3986 §3.1 scheme) whose characters are limited to unreserved, ':', '/', '@',
 * '%' and '+'. Enough for every SCIM schema URN and URL seen in practice, and strict enough to reject junk.
 */
export function isSchemaUri(s: string): boolean {
  const colon = s.indexOf(':');
  if (colon < 1 || colon === s.length - 1 || !isAlpha(s.charCodeAt(0))) return false;
  for (let i = 1; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (!isAlpha(c) && !isDigit(c) && c !== 0x2b && c !== 0x2d && c !== 0x2e) return false;
  }
  for (let i = colon + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlpha(c) && !isDigit(c) && !'-._~:/@%+'.includes(s[i] as string)) return false;
  }
  return true;
}

/**
 * Split and validate an attribute path. Returns an error detail instead of throwing so the parser can attach the
 * position and scimType. `relative`: inside `attr[...]` only bare sub-attribute names make sense (RFC 7643 §2.4:
 * sub-attributes are never complex), so a schema or a further '.' is rejected there.
 */
export function splitAttrPath(text: string, relative: boolean): AttrPath | string {
  const colon = text.lastIndexOf(':');
  const rest = colon < 0 ? text : text.slice(colon + 1);
  const dot = rest.indexOf('.');
  const attr = dot < 0 ? rest : rest.slice(0, dot);
  if (relative) {
    if (colon >= 0 || dot >= 0) return 'inside "[...]" attribute paths must be bare sub-attribute names';
    return isSubAttrName(attr) ? { attr } : 'invalid attribute name';
  }
  if (!isAttrName(attr)) return 'invalid attribute name';
  const path: { schema?: string; attr: string; subAttr?: string } = { attr };
  if (colon >= 0) {
    const schema = text.slice(0, colon);
    if (!isSchemaUri(schema)) return 'invalid schema URI before the attribute name';
    path.schema = schema;
  }
  if (dot >= 0) {
    const subAttr = rest.slice(dot + 1);
    if (!isSubAttrName(subAttr)) return 'invalid sub-attribute name (at most one "." is allowed)';
    path.subAttr = subAttr;
  }
  return path;
}
