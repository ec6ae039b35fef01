/**
 * SCIM filters (RFC 7644 §3.4.2.2) compiled to a parameterized SQL predicate with Drizzle's `sql` template.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 *
 * Values only ever travel as bind parameters; attribute paths are resolved against the schema definitions and mapped
 * to fixed SQL fragments by the resource's `FilterMapping`, so nothing from the filter text is ever spliced into SQL.
 * PostgreSQL evaluates the predicate, with its indexes; no rows are loaded into Node to be filtered.
 *
 * Semantics:
 * - caseExact per attribute (RFC 7643 §2.2): case-insensitive attributes compare `lower(a)` with `lower(v)`.
 * - `not` is pushed down to the comparisons, which stay plain and index-usable; a negated comparison is NULL-safe, so
 *   `not (…)` is the exact complement: an absent attribute is not equal to anything (`ne` matches it) and is neither
 *   greater nor less than anything.
 * - `eq null` is `not pr`, `ne null` is `pr`. Booleans take only eq/ne (§3.4.2.2: other operators on booleans
 *   are `invalidFilter`); dateTimes compare as instants and must be valid xsd:dateTime strings.
 * - A multi-valued attribute with a sub-attribute (`emails.value co "x"`), or with none (`emails co "x"`, meaning
 *   its `value`), matches when any value matches; `emails[…]` when one value matches the whole bracketed filter.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { AttrPath, CompValue, Filter } from './ast.ts';
import { formatAttrPath } from './format.ts';
import { ScimFilterError } from './errors.ts';
import type { AttributeType } from '../schema/definitions.ts';

/** A single value: its SQL as text (or uuid / boolean / timestamptz as `sqlType` says). */
export interface ScalarTarget {
  kind: 'scalar';
  expr: SQL;
  type: AttributeType;
  caseExact: boolean;
  /** How `expr` is typed in SQL: text (default; jsonb booleans read as 'true'/'false'), a native column type. */
  sqlType?: 'text' | 'uuid' | 'boolean' | 'timestamptz';
  /** `expr` is stored lowercased already (so it is compared without `lower()`, and indexes on it apply). */
  lowered?: boolean;
  /** The lowercased value reversed, when stored and indexed: `ew` becomes a prefix match on it. */
  reversed?: SQL;
}

/** A multi-valued attribute: `exists(pred)` is true when one of its values satisfies `pred`. */
export interface MultiTarget {
  kind: 'multi';
  sub(name: string): ScalarTarget | undefined;
  exists(pred: SQL): SQL;
}

/** A fixed value (e.g. `meta.resourceType`). */
export interface ConstTarget {
  kind: 'const';
  value: string;
}

/**
 * An attribute the resource type does not have. RFC 7644 §3.4.2.1: at the server root, "For filtered attributes that
 * are not part of a particular resource type, the service provider SHALL treat the attribute as if there is no
 * attribute value."
 */
export interface AbsentTarget {
  kind: 'absent';
}

export type Target = ScalarTarget | MultiTarget | ConstTarget | AbsentTarget;

export interface FilterMapping {
  /** The SQL target of an attribute path; undefined for unknown or unfilterable attributes. */
  resolve(path: AttrPath): Target | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRUE = sql`true`;
const FALSE = sql`false`;

function fail(detail: string): never {
  throw new ScimFilterError('invalidFilter', 0, detail);
}

/** LIKE with every wildcard in the value escaped (backslash is PostgreSQL's default escape character). */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function compileFilter(filter: Filter, mapping: FilterMapping): SQL {
  return compile(filter, mapping, false);
}

/**
 * `negate` pushes `not` down to the leaves (De Morgan), so that a positive comparison stays a plain, index-usable
 * predicate (`lower(user_name) = $1`), and only a negated leaf is made NULL-safe (`not coalesce(…, false)`).
 */
function compile(filter: Filter, mapping: FilterMapping, negate: boolean): SQL {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const l = compile(filter.left, mapping, negate);
      const r = compile(filter.right, mapping, negate);
      return (filter.op === 'and') !== negate ? sql`(${l} and ${r})` : sql`(${l} or ${r})`;
    }
    case 'not':
      return compile(filter.filter, mapping, !negate);
    case 'valuePath': {
      const target = mapping.resolve(filter.path);
      if (!target) fail(`unknown attribute ${JSON.stringify(formatAttrPath(filter.path))}`);
      if (target.kind === 'absent') return polarity(FALSE, negate);
      if (target.kind !== 'multi') fail(`"[...]" needs a multi-valued attribute; ${JSON.stringify(formatAttrPath(filter.path))} is not`);
      const inner: FilterMapping = {
        resolve: (p) => (p.schema === undefined && p.subAttr === undefined ? target.sub(p.attr) : undefined),
      };
      return polarity(target.exists(compile(filter.filter, inner, false)), negate);
    }
    case 'pr': {
      const target = resolveOrFail(mapping, filter.path);
      if (target.kind === 'const') return negate ? FALSE : TRUE;
      if (target.kind === 'absent') return polarity(FALSE, negate);
      if (target.kind === 'multi') return polarity(target.exists(TRUE), negate);
      if (target.kind === 'anyOf') return polarity(target.parent.exists(present(target.sub)), negate);
      return polarity(present(target), negate);
    }
    default: {
      const target = resolveOrFail(mapping, filter.path);
      const where = formatAttrPath(filter.path);
      // `ne` is `not eq`; absent attributes are not equal to anything.
      const op = filter.op === 'ne' ? 'eq' : filter.op;
      const neg = filter.op === 'ne' ? !negate : negate;
      if (target.kind === 'const') return compareConst(target.value, filter.op, filter.value, where) === !negate ? TRUE : FALSE;
      if (target.kind === 'absent') return polarity(FALSE, neg);
      if (target.kind === 'anyOf') return polarity(target.parent.exists(compare(target.sub, op, filter.value, where)), neg);
      if (target.kind === 'multi') {
        const value = target.sub('value');
        if (!value) fail(`${JSON.stringify(where)} has no "value" to compare; name a sub-attribute`);
        return polarity(target.exists(compare(value, op, filter.value, where)), neg);
      }
      return polarity(compare(target, op, filter.value, where), neg);
    }
  }
}

/**
 * `mapping` for a query across resource types (RFC 7644 §3.4.2.1): an attribute this type lacks has no value instead
 * of being an error. The paths it lacked are added to `missing`, so a caller can still reject a path no type has.
 */
export function absentWhenUnknown(mapping: FilterMapping, missing: Set<string>): FilterMapping {
  return {
    resolve(path) {
      const t = mapping.resolve(path);
      if (t) return t;
      missing.add(formatAttrPath(path).toLowerCase());
      return { kind: 'absent' };
    },
  };
}

/**
 * When the whole filter is one condition on one multi-valued attribute (`emails[…]`, `emails.value ew …`), that
 * attribute's target and the predicate on its values: callers can count matching owners from the values alone.
 */
export function singleMultiCondition(filter: Filter | undefined, mapping: FilterMapping): { target: MultiTarget; pred: SQL } | undefined {
  if (!filter) return undefined;
  if (filter.op === 'valuePath') {
    const target = mapping.resolve(filter.path);
    if (target?.kind !== 'multi') return undefined;
    const inner: FilterMapping = { resolve: (p) => (p.schema === undefined && p.subAttr === undefined ? target.sub(p.attr) : undefined) };
    return { target, pred: compile(filter.filter, inner, false) };
  }
  if (filter.op === 'and' || filter.op === 'or' || filter.op === 'not' || (filter.op !== 'pr' && filter.op === 'ne')) return undefined;
  const target = resolveOrFail(mapping, filter.path);
  const where = formatAttrPath(filter.path);
  if (target.kind === 'anyOf') return { target: target.parent, pred: filter.op === 'pr' ? present(target.sub) : compare(target.sub, filter.op, filter.value, where) };
  if (target.kind === 'multi' && filter.op !== 'pr') {
    const value = target.sub('value');
    return value ? { target, pred: compare(value, filter.op, filter.value, where) } : undefined;
  }
  return undefined;
}

/** A positive predicate may be NULL where the attribute is absent (WHERE treats that as false); its negation may not. */
function polarity(positive: SQL, negate: boolean): SQL {
  return negate ? sql`(not coalesce(${positive}, false))` : positive;
}

/** A path with a sub-attribute of a multi-valued attribute (`emails.value`): any value's sub-attribute. */
interface AnyOf {
  kind: 'anyOf';
  parent: MultiTarget;
  sub: ScalarTarget;
}

function resolveOrFail(mapping: FilterMapping, path: AttrPath): Target | AnyOf {
  if (path.subAttr !== undefined) {
    const parent = mapping.resolve({ ...(path.schema !== undefined ? { schema: path.schema } : {}), attr: path.attr });
    if (parent?.kind === 'multi') {
      const sub = parent.sub(path.subAttr);
      if (!sub) fail(`unknown sub-attribute ${JSON.stringify(formatAttrPath(path))}`);
      return { kind: 'anyOf', parent, sub };
    }
  }
  const target = mapping.resolve(path);
  if (!target) fail(`unknown or unfilterable attribute ${JSON.stringify(formatAttrPath(path))}`);
  return target;
}

function present(t: ScalarTarget): SQL {
  if (t.sqlType && t.sqlType !== 'text') return sql`(${t.expr} is not null)`;
  return sql`(${t.expr} <> '')`;
}

function compareConst(value: string, op: string, v: CompValue, where: string): boolean {
  if (typeof v !== 'string') return op === 'ne';
  const a = value.toLowerCase();
  const b = v.toLowerCase();
  const r = op === 'eq' ? a === b : op === 'ne' ? a !== b : op === 'co' ? a.includes(b) : op === 'sw' ? a.startsWith(b) : op === 'ew' ? a.endsWith(b) : undefined;
  if (r === undefined) fail(`operator "${op}" is not supported on ${JSON.stringify(where)}`);
  return r;
}

/** The positive comparison (`ne` arrives as a negated `eq`). NULL where the attribute is absent. */
function compare(t: ScalarTarget, op: string, v: CompValue, where: string): SQL {
  if (v === null) {
    if (op === 'eq') return sql`(not coalesce(${present(t)}, false))`;
    fail(`operator "${op}" cannot compare with null`);
  }
  switch (t.type) {
    case 'boolean': {
      if (op !== 'eq') fail(`operator "${op}" is not allowed on the boolean ${JSON.stringify(where)} (RFC 7644 §3.4.2.2)`);
      const b = typeof v === 'boolean' ? v : typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : fail(`${JSON.stringify(where)} is a boolean; compare it with true or false`);
      return t.sqlType === 'boolean' ? sql`(${t.expr} = ${b})` : sql`(${t.expr} = ${String(b)})`;
    }
    case 'dateTime': {
      const at = typeof v === 'string' ? Date.parse(v) : NaN;
      // Years 1–9999: what xsd:dateTime writes without a sign, and what PostgreSQL reads back.
      if (Number.isNaN(at) || at < -62135596800000 || at > 253402300799999) fail(`${JSON.stringify(where)} is a dateTime; compare it with a quoted xsd:dateTime such as "2026-01-23T04:56:22Z"`);
      return ordered(sql`${t.expr}`, sql`${new Date(at).toISOString()}::timestamptz`, op, where);
    }
    case 'integer':
    case 'decimal': {
      if (typeof v !== 'number') fail(`${JSON.stringify(where)} is a number; compare it with a number`);
      return ordered(sql`(${t.expr})::numeric`, sql`${v}::numeric`, op, where);
    }
    default:
      return compareString(t, op, typeof v === 'string' ? v : String(v), where);
  }
}

function ordered(lhs: SQL, rhs: SQL, op: string, where: string): SQL {
  switch (op) {
    case 'eq':
      return sql`(${lhs} = ${rhs})`;
    case 'gt':
      return sql`(${lhs} > ${rhs})`;
    case 'ge':
      return sql`(${lhs} >= ${rhs})`;
    case 'lt':
      return sql`(${lhs} < ${rhs})`;
    case 'le':
      return sql`(${lhs} <= ${rhs})`;
    default:
      return fail(`operator "${op}" is not supported on ${JSON.stringify(where)}`);
  }
}

const reverse = (s: string) => [...s].reverse().join('');

function compareString(t: ScalarTarget, op: string, v: string, where: string): SQL {
  // PostgreSQL text cannot hold U+0000, so no stored value contains it.
  if (v.includes('\u0000')) fail('NUL characters cannot occur in values');
  if (t.sqlType === 'uuid') {
    // Ids are uuids: a value that is not one matches nothing, without a cast error.
    if (op === 'eq') return UUID.test(v) ? sql`(${t.expr} = ${v}::uuid)` : FALSE;
    return compareString({ ...t, expr: sql`(${t.expr})::text`, sqlType: 'text', caseExact: false }, op, v, where);
  }
  const lhs = t.caseExact || t.lowered ? t.expr : sql`lower(${t.expr})`;
  const value = t.caseExact ? v : v.toLowerCase();
  switch (op) {
    case 'co':
      return sql`(${lhs} like ${`%${likeEscape(value)}%`})`;
    case 'sw':
      return sql`(${lhs} like ${`${likeEscape(value)}%`})`;
    case 'ew':
      // With a reversed-value index, "ends with" is "reversed starts with".
      if (t.reversed && !t.caseExact) return sql`(${t.reversed} like ${`${likeEscape(reverse(value))}%`})`;
      return sql`(${lhs} like ${`%${likeEscape(value)}`})`;
    default:
      return ordered(lhs, sql`${value}`, op, where);
  }
}
