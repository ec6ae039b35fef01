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
 * - Every compiled predicate is true or false, never NULL, so `not (…)` is the plain complement: an absent attribute
 *   is not equal to anything (`ne` matches it) and is neither greater nor less than anything.
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

export type Target = ScalarTarget | MultiTarget | ConstTarget;

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
  switch (filter.op) {
    case 'and':
      return sql`(${compileFilter(filter.left, mapping)} and ${compileFilter(filter.right, mapping)})`;
    case 'or':
      return sql`(${compileFilter(filter.left, mapping)} or ${compileFilter(filter.right, mapping)})`;
    case 'not':
      return sql`(not ${compileFilter(filter.filter, mapping)})`;
    case 'valuePath': {
      const target = mapping.resolve(filter.path);
      if (!target) fail(`unknown attribute ${JSON.stringify(formatAttrPath(filter.path))}`);
      if (target.kind !== 'multi') fail(`"[...]" needs a multi-valued attribute; ${JSON.stringify(formatAttrPath(filter.path))} is not`);
      const inner: FilterMapping = {
        resolve: (p) => (p.schema === undefined && p.subAttr === undefined ? target.sub(p.attr) : undefined),
      };
      return target.exists(compileFilter(filter.filter, inner));
    }
    case 'pr': {
      const target = resolveOrFail(mapping, filter.path);
      if (target.kind === 'const') return TRUE;
      if (target.kind === 'multi') return target.exists(TRUE);
      if (target.kind === 'anyOf') return target.parent.exists(present(target.sub));
      return present(target);
    }
    default: {
      const target = resolveOrFail(mapping, filter.path);
      const where = formatAttrPath(filter.path);
      if (target.kind === 'const') return compareConst(target.value, filter.op, filter.value, where);
      if (target.kind === 'anyOf') return target.parent.exists(compare(target.sub, filter.op, filter.value, where));
      if (target.kind === 'multi') {
        const value = target.sub('value');
        if (!value) fail(`${JSON.stringify(where)} has no "value" to compare; name a sub-attribute`);
        return target.exists(compare(value, filter.op, filter.value, where));
      }
      return compare(target, filter.op, filter.value, where);
    }
  }
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
  return sql`coalesce(${t.expr} <> '', false)`;
}

function compareConst(value: string, op: string, v: CompValue, where: string): SQL {
  if (typeof v !== 'string') return op === 'ne' ? TRUE : FALSE;
  const a = value.toLowerCase();
  const b = v.toLowerCase();
  const r = op === 'eq' ? a === b : op === 'ne' ? a !== b : op === 'co' ? a.includes(b) : op === 'sw' ? a.startsWith(b) : op === 'ew' ? a.endsWith(b) : undefined;
  if (r === undefined) fail(`operator "${op}" is not supported on ${JSON.stringify(where)}`);
  return r ? TRUE : FALSE;
}

function compare(t: ScalarTarget, op: string, v: CompValue, where: string): SQL {
  if (v === null) {
    if (op === 'eq') return sql`(not ${present(t)})`;
    if (op === 'ne') return present(t);
    fail(`operator "${op}" cannot compare with null`);
  }
  switch (t.type) {
    case 'boolean': {
      if (op !== 'eq' && op !== 'ne') fail(`operator "${op}" is not allowed on the boolean ${JSON.stringify(where)} (RFC 7644 §3.4.2.2)`);
      const b = typeof v === 'boolean' ? v : typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : fail(`${JSON.stringify(where)} is a boolean; compare it with true or false`);
      const eq = t.sqlType === 'boolean' ? sql`coalesce(${t.expr} = ${b}, false)` : sql`coalesce(${t.expr} = ${String(b)}, false)`;
      return op === 'eq' ? eq : sql`(not ${eq})`;
    }
    case 'dateTime': {
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) fail(`${JSON.stringify(where)} is a dateTime; compare it with a quoted xsd:dateTime such as "2026-01-23T04:56:22Z"`);
      const at = new Date(v).toISOString();
      const rhs = sql`${at}::timestamptz`;
      return ordered(sql`${t.expr}`, rhs, op, where);
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
      return sql`coalesce(${lhs} = ${rhs}, false)`;
    case 'ne':
      return sql`coalesce(${lhs} <> ${rhs}, true)`;
    case 'gt':
      return sql`coalesce(${lhs} > ${rhs}, false)`;
    case 'ge':
      return sql`coalesce(${lhs} >= ${rhs}, false)`;
    case 'lt':
      return sql`coalesce(${lhs} < ${rhs}, false)`;
    case 'le':
      return sql`coalesce(${lhs} <= ${rhs}, false)`;
    default:
      return fail(`operator "${op}" is not supported on ${JSON.stringify(where)}`);
  }
}

function compareString(t: ScalarTarget, op: string, v: string, where: string): SQL {
  if (t.sqlType === 'uuid') {
    // Ids are uuids: a value that is not one matches nothing (and ne matches everything), without a cast error.
    if (op === 'eq') return UUID.test(v) ? sql`coalesce(${t.expr} = ${v}::uuid, false)` : FALSE;
    if (op === 'ne') return UUID.test(v) ? sql`coalesce(${t.expr} <> ${v}::uuid, true)` : TRUE;
    return compareString({ ...t, expr: sql`(${t.expr})::text`, sqlType: 'text', caseExact: false }, op, v, where);
  }
  const lhs = t.caseExact ? t.expr : sql`lower(${t.expr})`;
  const value = t.caseExact ? v : v.toLowerCase();
  switch (op) {
    case 'co':
      return sql`coalesce(${lhs} like ${`%${likeEscape(value)}%`}, false)`;
    case 'sw':
      return sql`coalesce(${lhs} like ${`${likeEscape(value)}%`}, false)`;
    case 'ew':
      return sql`coalesce(${lhs} like ${`%${likeEscape(value)}`}, false)`;
    default:
      return ordered(lhs, sql`${value}`, op, where);
  }
}
