/**
 * PATCH (RFC 7644 §3.5.2) as a pure function: (resource, operations) → new resource. The input is never changed.
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 *
 * add/remove/replace, with and without `path`, attribute paths (`name.familyName`), value-selection filters
 * (`emails[type eq "work"]`, `emails[type eq "work"].value`), schema-qualified paths and whole extensions, and
 * `primary` handling (§3.5.2: setting primary true on one value sets it false on the others).
 *
 * Client dialects, each a labelled deviation:
 * - Entra ID: op names capitalized (`Replace`); booleans as "True"/"False" (validate.ts); no-path `replace` whose
 *   value has dotted (`name.givenName`) or URN-qualified keys; `Replace emails[type eq "work"].value` on a user with no
 *   work email creates that value (the RFC says 400 noTarget, which would make Entra retry for ever); `Remove members`
 *   with a `value` list removes those values. Manager as a string (validate.ts). Keys of a value that no schema of
 *   the resource defines (`adreses`, `schemas` inside an extension object) are ignored; an unknown `path` is not.
 *   Members an operation does not define (`"name": "addMember"`) are ignored, as RFC 6902 §4 says.
 *   https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
 * - Okta: no-path `replace` of `{"id": …, "displayName": …}` repeats the read-only `id`, which is ignored when it is
 *   the resource's own id. https://developer.okta.com/docs/reference/scim/scim-20/
 */
import { parsePatchPath } from '../filter/parse.ts';
import type { Filter } from '../filter/ast.ts';
import { badRequest, ScimError } from '../errors.ts';
import { ScimFilterError } from '../filter/errors.ts';
import { findAttr, findExtension, resolveAttr, PATCH_OP, type AttributeDef, type ResourceTypeDef, type SchemaDef } from '../schema/definitions.ts';
import { normalizeValue, type Resource } from '../schema/validate.ts';
import { matches, valueFromEqFilter } from './match.ts';

export const PATCH_OPS = ['add', 'remove', 'replace'] as const;
export type PatchOpName = (typeof PATCH_OPS)[number];

export interface PatchOperation {
  op: PatchOpName;
  path?: string;
  value?: unknown;
}

export const MAX_PATCH_OPERATIONS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const getKey = (o: Record<string, unknown>, name: string) => Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());

/** The PatchOp message (§3.5.2): `schemas` (when sent) must name PatchOp; `Operations` a non-empty array. */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The body must be a PatchOp message: {"schemas": ["' + PATCH_OP + '"], "Operations": [...]}.');
  const schemasKey = getKey(body, 'schemas');
  const schemas = schemasKey ? body[schemasKey] : undefined;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP.toLowerCase()))) {
    throw badRequest('invalidSyntax', `"schemas" must be ["${PATCH_OP}"].`);
  }
  const opsKey = getKey(body, 'Operations');
  const ops = opsKey ? body[opsKey] : undefined;
  if (!Array.isArray(ops) || !ops.length) throw badRequest('invalidSyntax', '"Operations" must be a non-empty array.');
  if (ops.length > MAX_PATCH_OPERATIONS) throw badRequest('invalidValue', `At most ${MAX_PATCH_OPERATIONS} operations per PATCH.`);
  return ops.map((o, i) => {
    if (!isObject(o)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object.`);
    const opKey = getKey(o, 'op');
    const op = opKey ? o[opKey] : undefined;
    // Entra ID deviation: "Add", "Replace", "Remove".
    const name = typeof op === 'string' ? op.toLowerCase() : undefined;
    if (!name || !(PATCH_OPS as readonly string[]).includes(name)) throw badRequest('invalidSyntax', `Operations[${i}].op must be "add", "remove" or "replace".`);
    const pathKey = getKey(o, 'path');
    const path = pathKey ? o[pathKey] : undefined;
    if (path !== undefined && path !== null && typeof path !== 'string') throw badRequest('invalidPath', `Operations[${i}].path must be a string.`);
    const valueKey = getKey(o, 'value');
    // Other members are ignored: SCIM PATCH follows JSON Patch, and RFC 6902 §4 says "Members that are not explicitly
    // defined for the operation in question MUST be ignored" (Microsoft's validator sends `"name": "addMember"`).
    return { op: name as PatchOpName, ...(typeof path === 'string' && path.trim() !== '' ? { path } : {}), ...(valueKey ? { value: o[valueKey] } : {}) };
  });
}

/** Where an operation applies. */
type Target =
  | { kind: 'extension'; schema: SchemaDef }
  | { kind: 'attr'; ext: string | undefined; def: AttributeDef; sub?: AttributeDef; filter?: Filter; filterSub?: AttributeDef };

export interface PatchContext {
  type: ResourceTypeDef;
  /** The resource's id: a no-path replace may repeat it (Okta). */
  id?: string;
}

export function resolvePatchPath(type: ResourceTypeDef, text: string): Target {
  const ext = findExtension(type, text.trim());
  if (ext) return { kind: 'extension', schema: ext };
  const p = parsePatchPath(text);
  const r = resolveAttr(type, p.path.attr, p.path.schema);
  if (!r) throw badRequest('invalidPath', `Unknown attribute in path ${JSON.stringify(text.slice(0, 100))}.`);
  const { def } = r;
  const t: Target = { kind: 'attr', ext: r.extension, def };
  if (p.path.subAttr !== undefined) {
    const sub = def.type === 'complex' ? findAttr(def.subAttributes, p.path.subAttr) : undefined;
    if (!sub) throw badRequest('invalidPath', `"${def.name}" has no sub-attribute "${p.path.subAttr}".`);
    t.sub = sub;
  }
  if (p.valueFilter) {
    if (!def.multiValued || def.type !== 'complex') throw badRequest('invalidPath', `"[...]" needs a multi-valued complex attribute; "${def.name}" is not one.`);
    t.filter = p.valueFilter;
    if (p.subAttr !== undefined) {
      const sub = findAttr(def.subAttributes, p.subAttr);
      if (!sub) throw badRequest('invalidPath', `"${def.name}" has no sub-attribute "${p.subAttr}".`);
      t.filterSub = sub;
    }
  }
  return t;
}

/** A key of a no-path value as a target, or undefined when no schema of the resource defines it. */
function resolveValueKey(type: ResourceTypeDef, key: string): Target | undefined {
  try {
    return resolvePatchPath(type, key);
  } catch (e) {
    if ((e instanceof ScimError || e instanceof ScimFilterError) && e.scimType === 'invalidPath') return undefined;
    throw e;
  }
}

export function applyPatch(ctx: PatchContext, resource: Resource, ops: readonly PatchOperation[]): Resource {
  const res = structuredClone(resource);
  ops.forEach((op, i) => applyOne(ctx, res, op, i));
  for (const e of ctx.type.extensions) if (isObject(res[e.schema.id]) && !Object.keys(res[e.schema.id] as object).length) delete res[e.schema.id];
  return res;
}

function applyOne(ctx: PatchContext, res: Resource, op: PatchOperation, i: number) {
  const where = `Operations[${i}]`;
  if (op.path === undefined) {
    if (op.op === 'remove') throw badRequest('noTarget', `${where}: "remove" needs a "path" (RFC 7644 §3.5.2.2).`);
    if (!isObject(op.value)) throw badRequest('invalidValue', `${where}: without "path", "value" must be an object of attributes.`);
    for (const [key, value] of Object.entries(op.value)) {
      if (key.toLowerCase() === 'schemas') continue;
      if (key.toLowerCase() === 'id' && ctx.id !== undefined) {
        if (value === ctx.id || value === null) continue;
        throw badRequest('mutability', `${where}: "id" is read-only.`);
      }
      if (key.toLowerCase() === 'meta') continue;
      // A key the schemas do not define is ignored (dialect rule, ADR 0004); an unknown `path` stays 400 invalidPath.
      const t = resolveValueKey(ctx.type, key);
      if (t) apply(res, op.op, t, value, `${where}.value.${key}`);
    }
    return;
  }
  apply(res, op.op, resolvePatchPath(ctx.type, op.path), op.value, `${where} (${op.path.slice(0, 100)})`);
}

function containerOf(res: Resource, ext: string | undefined, create: boolean): Record<string, unknown> | undefined {
  if (!ext) return res;
  if (!isObject(res[ext])) {
    if (!create) return undefined;
    res[ext] = {};
  }
  return res[ext] as Record<string, unknown>;
}

function apply(res: Resource, op: PatchOpName, t: Target, value: unknown, where: string) {
  if (t.kind === 'extension') {
    if (op === 'remove') {
      delete res[t.schema.id];
      return;
    }
    if (!isObject(value)) throw badRequest('invalidValue', `${where}: the value for ${t.schema.id} must be an object.`);
    const c = containerOf(res, t.schema.id, true)!;
    for (const [k, v] of Object.entries(value)) {
      const def = findAttr(t.schema.attributes, k);
      if (!def) continue; // e.g. `schemas` inside the extension object: ignored (dialect rule)
      setAttr(c, def, op, v, where);
    }
    return;
  }
  const { def } = t;
  if (def.mutability === 'readOnly' || (t.sub && t.sub.mutability === 'readOnly')) throw badRequest('mutability', `${where}: "${def.name}" is read-only.`);
  // RFC 7644 §3.5.2: "If an attribute is removed or becomes unassigned and is defined as a required attribute …, the
  // server SHALL return … a "scimType" error code of "mutability"." (Other singular attributes become unassigned.)
  if (def.required && !t.sub && !t.filter && (op === 'remove' || value === null)) throw badRequest('mutability', `${where}: "${def.name}" is required; it cannot be removed.`);
  if (op !== 'remove' && value === undefined) throw badRequest('invalidValue', `${where}: "${op}" needs a "value".`);
  const c = containerOf(res, t.ext, op !== 'remove');
  if (!c) return;
  if (!def.multiValued) {
    if (t.sub) {
      const obj = isObject(c[def.name]) ? (c[def.name] as Record<string, unknown>) : {};
      if (op === 'remove') delete obj[t.sub.name];
      else {
        const v = normalizeValue(t.sub, value, `${def.name}.${t.sub.name}`);
        if (v === undefined) delete obj[t.sub.name];
        else obj[t.sub.name] = v;
      }
      if (Object.keys(obj).length) c[def.name] = obj;
      else delete c[def.name];
      return;
    }
    if (op === 'remove') {
      delete c[def.name];
      return;
    }
    setAttr(c, def, op, value, where);
    return;
  }
  applyMulti(c, op, t, value, where);
}

/** add/replace of a whole single-valued attribute; complex values merge their sub-attributes (§3.5.2.1, §3.5.2.3). */
function setAttr(c: Record<string, unknown>, def: AttributeDef, op: PatchOpName, value: unknown, where: string) {
  if (def.mutability === 'readOnly') throw badRequest('mutability', `${where}: "${def.name}" is read-only.`);
  if (def.multiValued) {
    applyMulti(c, op, { kind: 'attr', ext: undefined, def }, value, where);
    return;
  }
  if (op === 'remove') {
    delete c[def.name];
    return;
  }
  const v = normalizeValue(def, value, def.name);
  if (v === undefined) delete c[def.name];
  else if (def.type === 'complex' && isObject(c[def.name])) c[def.name] = { ...(c[def.name] as object), ...(v as object) };
  else c[def.name] = v;
}

type Value = Record<string, unknown>;

function applyMulti(c: Record<string, unknown>, op: PatchOpName, t: Extract<Target, { kind: 'attr' }>, value: unknown, where: string) {
  const { def } = t;
  const current: Value[] = Array.isArray(c[def.name]) ? ((c[def.name] as unknown[]).filter(isObject) as Value[]) : [];
  let next: Value[];
  if (t.filter) {
    const hit = current.map((v) => matches(t.filter!, v, def));
    const sub = t.filterSub;
    if (op === 'remove') {
      next = sub ? current.map((v, j) => (hit[j] ? without(v, sub.name) : v)) : current.filter((_, j) => !hit[j]);
    } else {
      const replacement = sub ? normalizeValue(sub, value, `${def.name}.${sub.name}`) : normalizeValue({ ...def, multiValued: false }, value, def.name);
      if (!hit.some(Boolean)) {
        // Entra ID deviation: create the value the filter describes instead of failing with noTarget.
        const base = valueFromEqFilter(t.filter, def);
        if (!base) throw badRequest('noTarget', `${where}: no value matches the filter.`);
        if (replacement === undefined) return;
        next = [...current, sub ? { ...base, [sub.name]: replacement } : { ...base, ...(replacement as Value) }];
      } else {
        next = current.map((v, j) => {
          if (!hit[j]) return v;
          if (sub) return replacement === undefined ? without(v, sub.name) : { ...v, [sub.name]: replacement };
          if (replacement === undefined) return v;
          return op === 'add' ? { ...v, ...(replacement as Value) } : (replacement as Value);
        });
      }
    }
  } else if (t.sub) {
    const sub = t.sub;
    if (op === 'remove') next = current.map((v) => without(v, sub.name));
    else {
      const v = normalizeValue(sub, value, `${def.name}.${sub.name}`);
      next = current.length ? current.map((x) => (v === undefined ? without(x, sub.name) : { ...x, [sub.name]: v })) : v === undefined ? [] : [{ [sub.name]: v }];
    }
  } else if (op === 'remove') {
    if (value === undefined || value === null) next = [];
    else {
      // Entra ID deviation: `Remove` with a list of values to remove.
      const drop = (normalizeValue(def, value, def.name) as Value[] | undefined) ?? [];
      next = current.filter((v) => !drop.some((d) => sameValue(d, v)));
    }
  } else {
    const added = (normalizeValue(def, value, def.name, { maxValues: { [def.name.toLowerCase()]: 100_000 } }) as Value[] | undefined) ?? [];
    if (op === 'replace') next = added;
    else {
      next = [...current];
      for (const a of added) if (!next.some((v) => deepEqual(v, a))) next.push(a);
    }
    if (added.some((v) => v.primary === true)) {
      const chosen = added.findLast((v) => v.primary === true);
      next = next.map((v) => (v !== chosen && v.primary === true ? { ...v, primary: false } : v));
    }
  }
  if (op !== 'remove' && t.filter) {
    const primaries = next.filter((v) => v.primary === true);
    if (primaries.length > 1) {
      const keep = primaries.find((v) => !current.includes(v)) ?? primaries[0];
      next = next.map((v) => (v !== keep && v.primary === true ? { ...v, primary: false } : v));
    }
  }
  next = next.filter((v) => Object.keys(v).length);
  if (next.length) c[def.name] = next;
  else delete c[def.name];
}

function without(v: Value, key: string): Value {
  const { [key]: _, ...rest } = v;
  return rest;
}

/** Values are the same when their `value` sub-attributes are equal (or, without one, when they are deep-equal). */
function sameValue(a: Value, b: Value): boolean {
  if (a.value !== undefined) return a.value === b.value;
  return deepEqual(a, b);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Value)[k], (b as Value)[k]));
}
