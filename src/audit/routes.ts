/**
 * `GET /api/audit`: the audit trail of this tenant, newest first. Every change made through `/api` is recorded in the
 * transaction that makes it, with the actor, the source address, the target and a before/after with secrets removed.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { Invalid } from '../platform/errors/domain.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { ACTOR_TYPES } from '../db/schema/index.ts';
import { decodeCursor, encodeCursor } from '../platform/cursor.ts';
import { auditRepository, type AuditRow } from './repository.ts';

export const AUDIT_PATH = '/api/audit';

export interface AuditRouteDeps {
  scopeFor: ScopeFor;
}

const auditQuery = z.strictObject({
  actor: z.string().min(1).max(256).optional().describe('Actor id: a client id (e.g. `bootstrap`) or a user id.'),
  actorType: z.enum(ACTOR_TYPES).optional(),
  action: z.string().min(1).max(100).optional().describe('E.g. `user.create`, `user.roles.add`, `upstream.update`, `role.delete`.'),
  targetType: z.string().min(1).max(50).optional().describe('`user`, `role` or `upstream`.'),
  targetId: z.string().min(1).max(256).optional().describe('A user id, a role name, or `<type>/<id>` of an upstream provider (e.g. `AzureAd/hesehus`).'),
  from: z.iso.datetime({ offset: true }).optional().describe('Events at or after this instant.'),
  to: z.iso.datetime({ offset: true }).optional().describe('Events at or before this instant.'),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Page size, 1 to 200 (default 50).'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` from the previous page.'),
});

const auditEvent = z.object({
  id: z.string().describe('Increases with every event of the tenant.'),
  at: z.iso.datetime(),
  tenantId: z.uuid(),
  actor: z.object({ type: z.enum(ACTOR_TYPES), id: z.string() }),
  sourceIp: z.string().nullable(),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  before: z.record(z.string(), z.unknown()).nullable().describe('The target before the change, secrets replaced by "[redacted]".'),
  after: z.record(z.string(), z.unknown()).nullable().describe('The target after the change, secrets replaced by "[redacted]".'),
});

const auditPage = z.object({ items: z.array(auditEvent), nextCursor: z.string().nullable() });
const auditCursor = z.object({ before: z.number().int().positive() });

function toWire(row: AuditRow): z.infer<typeof auditEvent> {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    tenantId: row.tenantId,
    actor: { type: row.actorType, id: row.actorId },
    sourceIp: row.sourceIp,
    action: row.action,
    target: { type: row.targetType, id: row.targetId },
    before: row.before ?? null,
    after: row.after ?? null,
  };
}

export function auditRoutes(app: FastifyInstance, deps: AuditRouteDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(AUDIT_PATH, {
    config: { permission: 'audit:read' },
    schema: {
      operationId: 'audit.list',
      tags: ['Audit'],
      summary: 'Read the audit trail',
      description:
        'Changes made in this tenant, newest first: who (actor type and id: a client id for machine tokens, a user id for users), from where (source address), ' +
        'what (action and target) and the before/after of the target with secrets removed. Filters combine with AND; page with `cursor`. The trail is append-only.',
      querystring: auditQuery,
      response: { 200: auditPage, ...problemResponses(400, 401, 403) },
    },
    handler: async (request) => {
      const q = request.query;
      const from = q.from ? new Date(q.from) : undefined;
      const to = q.to ? new Date(q.to) : undefined;
      if (from && to && from > to) throw new Invalid('`from` is after `to`.', { parameter: 'from' });
      const limit = q.limit ?? 50;
      const beforeId = q.cursor !== undefined ? decodeCursor(q.cursor, auditCursor).before : undefined;
      const rows = await auditRepository(deps.scopeFor(request.tenant.id)).listEvents(
        { actorId: q.actor, actorType: q.actorType, action: q.action, targetType: q.targetType, targetId: q.targetId, from, to },
        { beforeId, limit: limit + 1 },
      );
      const items = rows.slice(0, limit);
      return { items: items.map(toWire), nextCursor: rows.length > limit ? encodeCursor({ before: items.at(-1)!.id }) : null };
    },
  });
}
