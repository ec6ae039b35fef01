/**
 * `/api/events`: the tenant's event feed, read in position order after an opaque cursor, and its catalog. HTTP only.
 * Organization-scoped clients (ADR 0009) read their own organization's events and nothing else.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TenantScope } from '../platform/db.ts';
import { assertOrganizationVisible, confinedOrganization } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { feedEventCatalog } from './catalog.ts';
import { readFeed } from './service.ts';
import { eventPageResponse, eventsQuery, eventToWire, eventTypesResponse } from './schemas.ts';

export const EVENTS_PATH = '/api/events';
export const EVENT_TYPES_PATH = '/api/events/types';

const TAGS = ['Events'];
const READ = { permission: 'events:read' } as const;
const FILTERS = { organization: 'filters' } as const;

export function eventRoutes(app: FastifyInstance, deps: { scopeFor(tenantId: string): TenantScope }) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(EVENTS_PATH, {
    config: { ...READ, ...FILTERS },
    schema: {
      operationId: 'events.list',
      tags: TAGS,
      summary: 'Read the event feed',
      description:
        'Every change in the tenant, in one order, written in the same transaction as the change. Pass `nextCursor` back as `after` to continue; ' +
        'a position once passed is never followed by an earlier event, so a reader that follows the cursor misses nothing (docs/adr/0011-event-positions.md). ' +
        'An event becomes readable once every transaction that started writing before it has ended (usually milliseconds). ' +
        'Events older than the retention period (EVENT_RETENTION_DAYS, default 30) are deleted; a cursor before the deleted ones is 410 Gone. ' +
        'An organization-scoped client (ADR 0009) sees only its organization\'s events.',
      querystring: eventsQuery,
      response: { 200: eventPageResponse, ...problemResponses(400, 401, 403, 404, 410) },
    },
    handler: async (request) => {
      const own = confinedOrganization(request);
      if (own !== undefined && request.query.organization_id !== undefined) assertOrganizationVisible(request, request.query.organization_id);
      const page = await readFeed(deps.scopeFor(request.tenant.id), {
        after: request.query.after,
        types: request.query.types,
        organizationId: own ?? request.query.organization_id,
        limit: request.query.limit,
      });
      return { items: page.items.map(eventToWire), nextCursor: page.nextCursor, hasMore: page.hasMore };
    },
  });

  r.get(EVENT_TYPES_PATH, {
    config: { ...READ, ...FILTERS },
    schema: {
      operationId: 'events.types',
      tags: TAGS,
      summary: 'List the event types',
      description: 'The catalog: every event type the feed carries, with the JSON Schema of its `data`. The same catalog is the `webhooks` section of the OpenAPI document.',
      response: { 200: eventTypesResponse, ...problemResponses(401, 403) },
    },
    handler: async () => ({ items: feedEventCatalog() }),
  });
}
