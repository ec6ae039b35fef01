/**
 * SCIM 2.0 filter and PATCH path parsing: RFC 7644 §3.4.2.2 and §3.5.2.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */
export type * from './ast.ts';
export { COMPARE_OPS } from './ast.ts';
export { ScimFilterError, type ScimFilterErrorType } from './errors.ts';
export { parseFilter, parsePatchPath, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, type ParseOptions } from './parse.ts';
export { formatFilter, formatPatchPath, formatAttrPath, formatValue } from './format.ts';
