/**
 * Canonical text for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): single spaces, lowercase
 * operators, JSON literals, and parentheses only where precedence or grouping needs them.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 *
 * Invariant (property-tested): parseFilter(formatFilter(f)) deep-equals f for every AST the parser can produce.
 * Attribute names are printed as stored, so they must be valid; the formatter does not re-validate them.
 */
import type { AttrPath, CompValue, Filter, PatchPath } from './ast.ts';

export function formatAttrPath(p: AttrPath): string {
  return `${p.schema !== undefined ? `${p.schema}:` : ''}${p.attr}${p.subAttr !== undefined ? `.${p.subAttr}` : ''}`;
}

export function formatValue(v: CompValue): string {
  if (typeof v === 'number') {
    // JSON.stringify would print NaN/Infinity as null and silently change the filter's meaning.
    if (!Number.isFinite(v)) throw new RangeError(`SCIM filter values must be finite numbers, got ${v}`);
    return String(v); // always valid JSON for finite numbers, e.g. 1e+21, 5e-324
  }
  return JSON.stringify(v); // strings: JSON escapes (lone surrogates become \udXXX); true/false/null as is
}

export function formatFilter(f: Filter): string {
  switch (f.op) {
    case 'pr':
      return `${formatAttrPath(f.path)} pr`;
    case 'not':
      return `not (${formatFilter(f.filter)})`;
    case 'valuePath':
      return `${formatAttrPath(f.path)}[${formatFilter(f.filter)}]`;
    // and/or parse left-associatively, so a right operand of the same operator needs parentheses to keep its shape.
    case 'and':
      return `${wrap(f.left, f.left.op === 'or')} and ${wrap(f.right, f.right.op === 'or' || f.right.op === 'and')}`;
    case 'or':
      return `${formatFilter(f.left)} or ${wrap(f.right, f.right.op === 'or')}`;
    default:
      return `${formatAttrPath(f.path)} ${f.op} ${formatValue(f.value)}`;
  }
}

export function formatPatchPath(p: PatchPath): string {
  const base = formatAttrPath(p.path);
  if (p.valueFilter === undefined) return base;
  return `${base}[${formatFilter(p.valueFilter)}]${p.subAttr !== undefined ? `.${p.subAttr}` : ''}`;
}

const wrap = (f: Filter, parens: boolean) => (parens ? `(${formatFilter(f)})` : formatFilter(f));
