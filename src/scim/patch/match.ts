/**
 * Evaluates a value-selection filter (RFC 7644 §3.5.2, `emails[type eq "work"]`) against one value of a multi-valued
 * complex attribute, in memory: PATCH applies to the representation, not to SQL. Sub-attribute names are
 * case-insensitive; string comparisons honour each sub-attribute's caseExact (RFC 7643 §2.2).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */
import type { CompValue, Filter } from '../filter/ast.ts';
import { badRequest } from '../errors.ts';
import { findAttr, type AttributeDef } from '../schema/definitions.ts';

function field(value: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(value).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : value[key];
}

export function matches(filter: Filter, value: unknown, parent: AttributeDef): boolean {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  switch (filter.op) {
    case 'and':
      return matches(filter.left, v, parent) && matches(filter.right, v, parent);
    case 'or':
      return matches(filter.left, v, parent) || matches(filter.right, v, parent);
    case 'not':
      return !matches(filter.filter, v, parent);
    case 'valuePath':
      throw badRequest('invalidPath', 'A value filter cannot contain another "[...]".');
    case 'pr': {
      const x = field(v, filter.path.attr);
      return x !== undefined && x !== null && x !== '' && !(Array.isArray(x) && !x.length);
    }
    default: {
      const def = findAttr(parent.subAttributes, filter.path.attr);
      if (!def) throw badRequest('invalidPath', `"${parent.name}" has no sub-attribute "${filter.path.attr}".`);
      return compare(field(v, def.name), filter.op, filter.value, def);
    }
  }
}

function compare(actual: unknown, op: string, expected: CompValue, def: AttributeDef): boolean {
  if (expected === null) return op === 'eq' ? actual === undefined || actual === null : op === 'ne' ? actual !== undefined && actual !== null : false;
  if (actual === undefined || actual === null) return op === 'ne';
  if (typeof actual === 'boolean' || typeof expected === 'boolean') {
    const e = typeof expected === 'string' ? expected.toLowerCase() === 'true' : expected;
    if (op === 'eq') return actual === e;
    if (op === 'ne') return actual !== e;
    throw badRequest('invalidPath', `Operator "${op}" is not allowed on the boolean "${def.name}".`);
  }
  if (typeof actual === 'number' && typeof expected === 'number') return order(actual - expected, op);
  let a = String(actual);
  let e = String(expected);
  if (!def.caseExact) {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  switch (op) {
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    default:
      return order(a < e ? -1 : a > e ? 1 : 0, op);
  }
}

function order(d: number, op: string): boolean {
  switch (op) {
    case 'eq':
      return d === 0;
    case 'ne':
      return d !== 0;
    case 'gt':
      return d > 0;
    case 'ge':
      return d >= 0;
    case 'lt':
      return d < 0;
    default:
      return d <= 0;
  }
}

/**
 * The value a filter describes when it is only `eq` comparisons joined by `and` (`type eq "work"`), else undefined.
 * Used to create the value an Entra ID `Replace emails[type eq "work"].value` targets when there is none yet.
 */
export function valueFromEqFilter(filter: Filter, parent: AttributeDef): Record<string, unknown> | undefined {
  if (filter.op === 'and') {
    const l = valueFromEqFilter(filter.left, parent);
    const r = valueFromEqFilter(filter.right, parent);
    return l && r ? { ...l, ...r } : undefined;
  }
  if (filter.op !== 'eq' || filter.value === null) return undefined;
  const def = findAttr(parent.subAttributes, filter.path.attr);
  return def ? { [def.name]: filter.value } : undefined;
}
