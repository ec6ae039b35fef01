/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) and the `returned` characteristic (RFC 7643 §7).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.9
 * `id` and `schemas` are always returned; `password` and `sendInvitation` never are (they are never stored in a
 * representation to begin with). Names are matched case-insensitively and may be schema-qualified
 * (`urn:…:enterprise:2.0:User:department`) or name a whole extension (`urn:…:enterprise:2.0:User`).
 */
import { splitAttrPath } from './filter/attr-path.ts';
import { badRequest } from './errors.ts';
import { findExtension, resolveAttr, type ResourceTypeDef } from './schema/definitions.ts';
import type { Resource } from './schema/validate.ts';

/** One requested path: top-level key in the representation (core name or extension URN), optional inner names. */
interface Sel {
  key: string;
  inner?: string;
  sub?: string;
}

export interface Projection {
  include?: Sel[];
  exclude?: Sel[];
}

const ALWAYS = new Set(['id', 'schemas']);

function parseList(type: ResourceTypeDef, raw: string | undefined, param: string): Sel[] | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw badRequest('invalidValue', `"${param}" must be given once, as a comma-separated list.`);
  const out: Sel[] = [];
  for (const text of splitList(raw).map(withoutValueFilter).filter(Boolean)) {
    const ext = findExtension(type, text);
    if (ext) {
      out.push({ key: ext.id });
      continue;
    }
    const p = splitAttrPath(text, false);
    if (typeof p === 'string') throw badRequest('invalidValue', `"${param}": ${p}: ${JSON.stringify(text.slice(0, 64))}.`);
    const r = resolveAttr(type, p.attr, p.schema);
    if (!r) continue; // unknown names select nothing
    if (r.extension) out.push({ key: r.extension, inner: r.def.name, ...(p.subAttr ? { sub: p.subAttr } : {}) });
    else out.push({ key: r.def.name, ...(p.subAttr ? { inner: p.subAttr } : {}) });
  }
  return out;
}

/** Splits at commas outside `[...]` and quoted strings (a value filter may hold either). */
function splitList(raw: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '[') depth++;
    else if (ch === ']') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) {
      out.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  out.push(raw.slice(start));
  return out.map((s) => s.trim());
}

/**
 * Entra ID validator deviation: `attributes=emails[type eq "work"]` is read as `attributes=emails` (and
 * `emails[…].value` as `emails.value`): RFC 7644 §3.4.2.5 allows only attribute names here, and a projection
 * selects attributes, not values.
 */
function withoutValueFilter(text: string): string {
  const open = text.indexOf('[');
  if (open < 0) return text;
  const close = text.lastIndexOf(']');
  return close > open ? `${text.slice(0, open)}${text.slice(close + 1)}`.trim() : text;
}

export function parseProjection(type: ResourceTypeDef, attributes: string | undefined, excludedAttributes: string | undefined): Projection {
  const include = parseList(type, attributes, 'attributes');
  const exclude = parseList(type, excludedAttributes, 'excludedAttributes');
  return { ...(include ? { include } : {}), ...(exclude ? { exclude } : {}) };
}

/** Whether the representation needs top-level `key` (e.g. `members`, `groups`), so callers can skip loading it. */
export function wants(p: Projection, key: string): boolean {
  const k = key.toLowerCase();
  if (p.include) return p.include.some((s) => s.key.toLowerCase() === k);
  if (p.exclude) return !p.exclude.some((s) => s.key.toLowerCase() === k && s.inner === undefined);
  return true;
}

const eqi = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function project(res: Resource, p: Projection): Resource {
  if (!p.include && !p.exclude) return res;
  let out: Resource;
  if (p.include) {
    out = {};
    for (const [k, v] of Object.entries(res)) {
      if (ALWAYS.has(k)) {
        out[k] = v;
        continue;
      }
      const sels = p.include.filter((s) => eqi(s.key, k));
      if (!sels.length) continue;
      if (sels.some((s) => s.inner === undefined)) out[k] = v;
      else out[k] = pick(v, sels);
    }
  } else out = { ...res };
  for (const s of p.exclude ?? []) {
    const key = Object.keys(out).find((k) => eqi(k, s.key));
    if (!key || ALWAYS.has(key)) continue;
    if (s.inner === undefined) delete out[key];
    else out[key] = drop(out[key], s);
  }
  return out;
}

function pickOne(value: unknown, names: string[]): unknown {
  if (!value || typeof value !== 'object') return undefined;
  const o = Object.fromEntries(Object.entries(value).filter(([k]) => names.some((n) => eqi(n, k))));
  return Object.keys(o).length ? o : undefined;
}

/** `name.givenName` → name with only givenName; for multi-valued attributes, per value. */
function pick(value: unknown, sels: Sel[]): unknown {
  const names = sels.map((s) => s.inner!);
  // Extension: inner is an attribute of the extension (possibly with a sub-attribute, kept whole here).
  if (Array.isArray(value)) return value.map((v) => pickOne(v, names)).filter((v) => v !== undefined);
  return pickOne(value, names);
}

function drop(value: unknown, s: Sel): unknown {
  const omit = (v: unknown) => (v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !eqi(k, s.inner!))) : v);
  return Array.isArray(value) ? value.map(omit) : omit(value);
}
