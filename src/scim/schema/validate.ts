/**
 * Input resources checked against the schema definitions and brought into one canonical shape: attribute names as the
 * schema spells them (RFC 7643 §2.1: names are case-insensitive), extension attributes under their schema URN,
 * `null` treated as unassigned (§2.5), readOnly attributes dropped (RFC 7644 §3.5.1: "SHALL be ignored").
 * https://www.rfc-editor.org/rfc/rfc7643#section-2
 *
 * Client dialects accepted here, each a labelled deviation:
 * - Entra ID sends booleans as the strings "True"/"False"
 *   (https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility).
 * - Entra ID sends enterprise `manager` as a plain id string, or as a one-element array of {value, $ref}
 *   (https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
 * - Entra ID sends extension attributes unqualified (`"department": null`) and lists schema URIs it has no data for
 *   (a Microsoft group URI, a mistyped enterprise URI): unknown URIs in `schemas` are ignored.
 * - Entra ID's validator sends attributes no schema of the resource defines (a misspelled `adreses`, a `schemas` key
 *   inside an extension object, an extension URN we do not implement): they are ignored, neither stored nor an error
 *   (ADR 0004, dialect rules). What is never stored cannot be returned or filtered on.
 * - Entra ID's validator sends a group member as a bare id string (`"members": ["2819c223…"]`): it means
 *   `{"value": "2819c223…"}`.
 *
 * Everything else that does not fit is a 400: a missing core schema `invalidSyntax`, wrong types `invalidValue`.
 */
import { badRequest } from '../errors.ts';
import { findAttr, findExtension, resolveAttr, type AttributeDef, type ResourceTypeDef } from './definitions.ts';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Resource = Record<string, unknown>;

export const MAX_STRING_LENGTH = 4096;
export const MAX_MULTI_VALUES = 100;

export interface NormalizeOptions {
  /** Max elements of a multi-valued attribute, by lowercased attribute name (group members need many). */
  maxValues?: Record<string, number>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys that are never attribute data on input: `schemas` is checked separately; the rest are readOnly. */
const IGNORED_TOP = new Set(['schemas', 'id', 'meta']);

/**
 * Canonical form of a resource sent with POST or PUT. `schemas`, when present, must be an array of strings naming
 * the resource's core schema.
 */
export function normalizeResource(type: ResourceTypeDef, body: unknown, opts: NormalizeOptions = {}): Resource {
  if (!isObject(body)) throw badRequest('invalidSyntax', `The body must be a JSON object (a ${type.name} resource).`);
  checkSchemas(type, body.schemas);
  const out: Resource = {};
  for (const [key, value] of Object.entries(body)) {
    if (IGNORED_TOP.has(key.toLowerCase())) continue;
    const ext = key.includes(':') ? findExtension(type, key) : undefined;
    if (ext) {
      if (value === null) continue;
      if (!isObject(value)) throw badRequest('invalidValue', `"${key}" must be an object holding ${ext.name} attributes.`);
      const inner = (out[ext.id] as Resource | undefined) ?? {};
      for (const [k, v] of Object.entries(value)) {
        const def = findAttr(ext.attributes, k);
        if (!def) continue; // not defined by the extension: ignored (dialect rule)
        setNormalized(inner, def, v, `${ext.id}:${def.name}`, opts);
      }
      if (Object.keys(inner).length) out[ext.id] = inner;
      continue;
    }
    const resolved = resolveAttr(type, key);
    if (!resolved) continue; // not defined by the resource's schemas: ignored (dialect rule)
    if (resolved.extension) {
      const inner = (out[resolved.extension] as Resource | undefined) ?? {};
      setNormalized(inner, resolved.def, value, `${resolved.extension}:${resolved.def.name}`, opts);
      if (Object.keys(inner).length) out[resolved.extension] = inner;
    } else {
      setNormalized(out, resolved.def, value, resolved.def.name, opts);
    }
  }
  return out;
}

function checkSchemas(type: ResourceTypeDef, schemas: unknown) {
  if (schemas === undefined || schemas === null) return;
  if (!Array.isArray(schemas) || !schemas.every((s) => typeof s === 'string')) throw badRequest('invalidSyntax', '"schemas" must be an array of schema URIs.');
  if (!schemas.some((s) => s.toLowerCase() === type.schema.id.toLowerCase())) {
    throw badRequest('invalidSyntax', `"schemas" must include ${type.schema.id}.`);
  }
}

/** Sets `target[def.name]` to the normalized value, or leaves it out when the value is unassigned or readOnly. */
function setNormalized(target: Resource, def: AttributeDef, value: unknown, path: string, opts: NormalizeOptions) {
  if (def.mutability === 'readOnly') return;
  const v = normalizeValue(def, value, path, opts);
  if (v === undefined) delete target[def.name];
  else target[def.name] = v;
}

/** One attribute's value in canonical form; `undefined` for null, an empty array or an empty object. */
export function normalizeValue(def: AttributeDef, value: unknown, path: string, opts: NormalizeOptions = {}): unknown {
  if (value === null || value === undefined) return undefined;
  if (def.multiValued) {
    // A single value where an array belongs is taken as a one-element array.
    const list = Array.isArray(value) ? value : [value];
    const max = opts.maxValues?.[def.name.toLowerCase()] ?? MAX_MULTI_VALUES;
    if (list.length > max) throw badRequest('invalidValue', `"${path}" has ${list.length} values; at most ${max} are accepted.`);
    const out = list.map((item, i) => normalizeSingle(def, item, `${path}[${i}]`)).filter((x) => x !== undefined);
    if (def.type === 'complex') checkPrimary(out as Resource[], path);
    return out.length ? out : undefined;
  }
  // Entra ID deviation: a single-valued complex attribute (manager) sent as a one-element array.
  if (Array.isArray(value) && def.type === 'complex' && value.length === 1) return normalizeSingle(def, value[0], path);
  if (Array.isArray(value)) throw badRequest('invalidValue', `"${path}" is single-valued; an array was sent.`);
  return normalizeSingle(def, value, path);
}

function normalizeSingle(def: AttributeDef, value: unknown, path: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case 'complex': {
      // Entra ID deviations: enterprise `manager` as the manager's id string; a group member as a bare id string.
      if (typeof value === 'string' && (!def.multiValued || def.name === 'members') && findAttr(def.subAttributes, 'value')) return value === '' ? undefined : { value };
      if (!isObject(value)) throw badRequest('invalidValue', `"${path}" must be an object.`);
      const out: Resource = {};
      for (const [k, v] of Object.entries(value)) {
        const sub = findAttr(def.subAttributes, k);
        if (!sub) continue; // not defined by the schema: ignored (dialect rule)
        if (sub.mutability === 'readOnly') continue;
        const nv = normalizeSingle(sub, v, `${path}.${sub.name}`);
        if (nv !== undefined) out[sub.name] = nv;
      }
      return Object.keys(out).length ? out : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      // Entra ID deviation: "True" / "False".
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw badRequest('invalidValue', `"${path}" must be a boolean (true or false).`);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      throw badRequest('invalidValue', `"${path}" must be an integer.`);
    case 'decimal':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw badRequest('invalidValue', `"${path}" must be a number.`);
    case 'dateTime':
      if (typeof value === 'string' && value.length <= 64 && !Number.isNaN(Date.parse(value))) return value;
      throw badRequest('invalidValue', `"${path}" must be an xsd:dateTime string, e.g. 2026-01-23T04:56:22Z.`);
    default:
      if (typeof value !== 'string') throw badRequest('invalidValue', `"${path}" must be a string.`);
      const max = def.maxLength ?? MAX_STRING_LENGTH;
      if (value.length > max) throw badRequest('invalidValue', `"${path}" is longer than ${max} characters.`);
      // PostgreSQL text and jsonb cannot hold U+0000.
      if (value.includes('\u0000')) throw badRequest('invalidValue', `"${path}" contains a NUL character.`);
      return value;
  }
}

/** RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once. */
function checkPrimary(values: Resource[], path: string) {
  if (values.filter((v) => v.primary === true).length > 1) throw badRequest('invalidValue', `At most one value of "${path}" may have primary true.`);
}
