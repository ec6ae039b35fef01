/**
 * AST for SCIM 2.0 filters (RFC 7644 §3.4.2.2, Figure 1) and PATCH paths (RFC 7644 §3.5.2, Figure 7).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 *
 * Spelling: operators and the literals true/false/null are stored lowercased; attribute names and schema URIs are
 * stored exactly as written. RFC 7643 §2.1 makes attribute names case-insensitive, so consumers must compare them
 * case-insensitively (e.g. via `toLowerCase()`); keeping the client's spelling makes `formatFilter` round-trip and
 * error messages recognisable.
 */

export const COMPARE_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

/** `compValue` of Figure 1: the JSON literals false / null / true, a JSON number or a JSON string. */
export type CompValue = string | number | boolean | null;

/**
 * `attrPath = [URI ":"] ATTRNAME *1subAttr`. `schema` is the URI without the trailing ':', e.g.
 * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. Optional keys are omitted, never `undefined`.
 */
export interface AttrPath {
  readonly schema?: string;
  readonly attr: string;
  readonly subAttr?: string;
}

export interface Compare {
  readonly op: CompareOp;
  readonly path: AttrPath;
  readonly value: CompValue;
}
export interface Present {
  readonly op: 'pr';
  readonly path: AttrPath;
}
export interface And {
  readonly op: 'and';
  readonly left: Filter;
  readonly right: Filter;
}
export interface Or {
  readonly op: 'or';
  readonly left: Filter;
  readonly right: Filter;
}
export interface Not {
  readonly op: 'not';
  readonly filter: Filter;
}
/**
 * `emails[type eq "work"]`: `filter` applies to each value of the multi-valued attribute `path`; its attribute
 * paths are bare sub-attribute names of `path` (no schema, no further sub-attribute), and it never contains
 * another ValuePath. `path` itself never has a `subAttr`.
 */
export interface ValuePath {
  readonly op: 'valuePath';
  readonly path: AttrPath;
  readonly filter: Filter;
}

export type Filter = Compare | Present | And | Or | Not | ValuePath;

/**
 * `PATH = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2, Figure 7).
 * - `name.familyName`                   → { path: { attr: 'name', subAttr: 'familyName' } }
 * - `members[value eq "x"]`             → { path: { attr: 'members' }, valueFilter }
 * - `emails[type eq "work"].value`      → { path: { attr: 'emails' }, valueFilter, subAttr: 'value' }
 * `subAttr` is only ever set together with `valueFilter`; without a filter the sub-attribute lives in `path`.
 */
export interface PatchPath {
  readonly path: AttrPath;
  readonly valueFilter?: Filter;
  readonly subAttr?: string;
}
