/**
 * /Bulk, RFC 7644 §3.7, https://www.rfc-editor.org/rfc/rfc7644#section-3.7
 * Operations run in order, each in its own transaction through the same services as the single-resource routes
 * (§3.7: bulk is not atomic). `bulkId:<id>` in a path or anywhere in `data` is replaced by the id the operation with
 * that bulkId created; an operation whose reference is not created yet waits until it is (§3.7.2), and one that can
 * never be resolved fails with 409. `failOnErrors` stops after that many errors (§3.7.3). More than maxOperations
 * operations or a body over maxPayloadSize is 413 (§3.7.4).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TenantScope } from '../../platform/db.ts';
import type { Actor } from '../../audit/service.ts';
import { expectedVersion, weakEtag } from '../../users/etag.ts';
import { scimActor, SCIM_WRITE } from '../auth.ts';
import { badRequest, ScimError, toScimError } from '../errors.ts';
import { sendScim } from '../media.ts';
import { BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_BYTES } from '../limits.ts';
import { BULK_REQUEST, BULK_RESPONSE } from '../schema/definitions.ts';
import { bulkBody, errorResponses, resourceResponse } from '../schemas.ts';
import { createScimUser, deleteScimUser, patchScimUser, replaceScimUser } from '../users/service.ts';
import { inviterFor, type InvitationSender, type ScimInviter } from '../invitations.ts';
import { createGroup, deleteGroup, patchGroup, replaceGroup } from '../groups/service.ts';
import { scimBase, type ScimScopes } from './shared.ts';

export const BULK_PATH = '/Bulk';

interface BulkOp {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}

interface BulkResult {
  method: string;
  bulkId?: string;
  version?: string;
  location?: string;
  status: string;
  response?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BULK_REF = /^bulkId:(.+)$/;

function parseBulk(body: unknown): { ops: BulkOp[]; failOnErrors: number | undefined } {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The body must be a BulkRequest.');
  if (body.schemas !== undefined && (!Array.isArray(body.schemas) || !body.schemas.includes(BULK_REQUEST))) throw badRequest('invalidSyntax', `"schemas" must be ["${BULK_REQUEST}"].`);
  const fail = body.failOnErrors;
  if (fail !== undefined && (typeof fail !== 'number' || !Number.isInteger(fail) || fail < 1)) throw badRequest('invalidValue', '"failOnErrors" must be a positive integer.');
  if (!Array.isArray(body.Operations)) throw badRequest('invalidSyntax', '"Operations" must be an array.');
  if (body.Operations.length > BULK_MAX_OPERATIONS) throw new ScimError(413, undefined, `At most ${BULK_MAX_OPERATIONS} operations per bulk request (maxOperations); this one has ${body.Operations.length}.`);
  const seen = new Set<string>();
  const ops = body.Operations.map((o, i): BulkOp => {
    if (!isObject(o)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object.`);
    const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw badRequest('invalidSyntax', `Operations[${i}].method must be POST, PUT, PATCH or DELETE.`);
    if (typeof o.path !== 'string' || !o.path.startsWith('/')) throw badRequest('invalidSyntax', `Operations[${i}].path must be a resource path such as /Users.`);
    if (o.bulkId !== undefined && (typeof o.bulkId !== 'string' || !o.bulkId)) throw badRequest('invalidSyntax', `Operations[${i}].bulkId must be a string.`);
    if (method === 'POST' && typeof o.bulkId !== 'string') throw badRequest('invalidSyntax', `Operations[${i}]: POST needs a bulkId (RFC 7644 §3.7).`);
    if (typeof o.bulkId === 'string') {
      if (seen.has(o.bulkId)) throw badRequest('invalidSyntax', `bulkId "${o.bulkId}" is used twice.`);
      seen.add(o.bulkId);
    }
    if (o.version !== undefined && typeof o.version !== 'string') throw badRequest('invalidSyntax', `Operations[${i}].version must be a string.`);
    return { method: method as BulkOp['method'], path: o.path, ...(typeof o.bulkId === 'string' ? { bulkId: o.bulkId } : {}), ...(typeof o.version === 'string' ? { version: o.version } : {}), ...(o.data !== undefined ? { data: o.data } : {}) };
  });
  return { ops, failOnErrors: fail as number | undefined };
}

/** Every `bulkId:<x>` string in a value. */
function refsIn(v: unknown, out: Set<string>): Set<string> {
  if (typeof v === 'string') {
    const m = BULK_REF.exec(v);
    if (m) out.add(m[1]!);
  } else if (Array.isArray(v)) v.forEach((x) => refsIn(x, out));
  else if (isObject(v)) Object.values(v).forEach((x) => refsIn(x, out));
  return out;
}

/** `/Users/bulkId:u1` → `bulkId:u1` (the reference in a path), else the path. */
function pathRef(path: string): string {
  return /\/(bulkId:[^/]+)$/.exec(path)?.[1] ?? path;
}

function substitute(v: unknown, ids: Map<string, string>): unknown {
  if (typeof v === 'string') {
    const m = BULK_REF.exec(v);
    return m && ids.has(m[1]!) ? ids.get(m[1]!) : v;
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ids));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ids)]));
  return v;
}

async function runOne(scope: TenantScope, actor: Actor, base: string, op: BulkOp, sendInvitation?: InvitationSender): Promise<BulkResult> {
  const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(op.path);
  if (!m) throw badRequest('invalidPath', `Unknown bulk path "${op.path.slice(0, 100)}"; use /Users, /Users/{id}, /Groups or /Groups/{id}.`);
  const [, kind, rawId] = m;
  let id: string | undefined;
  try {
    id = rawId ? decodeURIComponent(rawId) : undefined;
  } catch {
    // RFC 3986 §2.1: `%` must start an escape of two hex digits; anything else is this operation's 400.
    throw badRequest('invalidPath', `Operation path "${op.path.slice(0, 100)}" has a malformed % escape.`);
  }
  const version = expectedVersion(op.version);
  const res = (status: number, resourceId: string, v?: number): BulkResult => ({
    method: op.method,
    ...(op.bulkId ? { bulkId: op.bulkId } : {}),
    ...(v !== undefined ? { version: weakEtag(v) } : {}),
    location: `${base}/${kind}/${resourceId}`,
    status: String(status),
  });
  if (op.method === 'POST') {
    if (id) throw badRequest('invalidPath', 'POST goes to /Users or /Groups.');
    if (kind === 'Users') {
      const u = await createScimUser(scope, actor, op.data, { sendInvitation });
      return res(201, u.id, u.version);
    }
    const g = await createGroup(scope, actor, op.data);
    return res(201, g.id, g.version);
  }
  if (!id) throw badRequest('invalidPath', `${op.method} needs a resource id in the path.`);
  if (op.method === 'DELETE') {
    if (kind === 'Users') await deleteScimUser(scope, actor, id, version);
    else await deleteGroup(scope, actor, id, version);
    return { ...res(204, id), location: `${base}/${kind}/${id}` };
  }
  if (kind === 'Users') {
    const u = op.method === 'PUT' ? await replaceScimUser(scope, actor, id, op.data, version) : await patchScimUser(scope, actor, id, op.data, version);
    return res(200, u.id, u.version);
  }
  const g = op.method === 'PUT' ? await replaceGroup(scope, actor, id, op.data, version) : await patchGroup(scope, actor, id, op.data, version);
  return res(200, g.id, g.version);
}

export function scimBulkRoutes(app: FastifyInstance, deps: ScimScopes & { invite?: ScimInviter | undefined }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(BULK_PATH, {
    config: { scimScope: SCIM_WRITE },
    bodyLimit: BULK_MAX_PAYLOAD_BYTES,
    schema: {
      operationId: 'scim.bulk',
      tags: ['SCIM Bulk'],
      summary: 'Bulk operations',
      description: `RFC 7644 §3.7: up to ${BULK_MAX_OPERATIONS} operations and ${BULK_MAX_PAYLOAD_BYTES} bytes (413 past either). bulkId references, failOnErrors.`,
      body: bulkBody,
      response: { 200: resourceResponse, ...errorResponses(400, 401, 403, 413, 415) },
    },
    handler: async (request: FastifyRequest, reply) => {
      const { ops, failOnErrors } = parseBulk(request.body);
      const scope = deps.scopeOf(request);
      const actor = scimActor(request);
      const base = scimBase(request);
      const ids = new Map<string, string>();
      const declared = new Set(ops.flatMap((o) => (o.bulkId ? [o.bulkId] : [])));
      const results: (BulkResult | undefined)[] = ops.map(() => undefined);
      let pending = ops.map((_, i) => i);
      let errors = 0;
      const fail = (i: number, e: unknown) => {
        const err = toScimError(e);
        if (err.status >= 500) request.log.error({ err: e }, 'bulk operation failed');
        errors++;
        results[i] = { method: ops[i]!.method, ...(ops[i]!.bulkId ? { bulkId: ops[i]!.bulkId } : {}), status: String(err.status), response: err.body() };
      };
      outer: while (pending.length) {
        const waiting: number[] = [];
        for (const i of pending) {
          if (failOnErrors !== undefined && errors >= failOnErrors) break outer;
          const op = ops[i]!;
          const refs = [...refsIn(pathRef(op.path), refsIn(op.data, new Set()))];
          const missing = refs.filter((b) => !ids.has(b));
          if (missing.some((b) => !declared.has(b) || results[ops.findIndex((o) => o.bulkId === b)] !== undefined)) {
            fail(i, new ScimError(409, 'invalidValue', `bulkId ${missing.map((b) => `"${b}"`).join(', ')} does not name a resource created in this request.`));
            continue;
          }
          if (missing.length) {
            waiting.push(i);
            continue;
          }
          try {
            const result = await runOne(scope, actor, base, { ...op, path: op.path.replace(/bulkId:([^/]+)$/, (m, b: string) => ids.get(b) ?? m), data: substitute(op.data, ids) }, inviterFor(deps.invite, request.tenant));
            results[i] = result;
            if (op.bulkId && result.location) ids.set(op.bulkId, result.location.slice(result.location.lastIndexOf('/') + 1));
          } catch (e) {
            fail(i, e);
          }
        }
        if (waiting.length === pending.length) {
          // No progress: the remaining references wait on each other (a cycle).
          for (const i of waiting) fail(i, new ScimError(409, 'invalidValue', 'Circular bulkId references cannot be resolved.'));
          break;
        }
        pending = waiting;
      }
      return sendScim(request, reply, { schemas: [BULK_RESPONSE], Operations: results.filter((x): x is BulkResult => x !== undefined) });
    },
  });
}
