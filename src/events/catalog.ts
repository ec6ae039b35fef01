/**
 * The feed's event catalog: every type a capability writes to the feed, with the JSON shape of its `data`.
 *
 * Names are one namespace, `<resource>.<past-tense verb>`: `user.created`, `organization.updated`,
 * `connection.activated`, `domain.verified`, `session.revoked`; directory events follow Scalekit's seeds
 * (`organization.directory.user_created`, …). The list is API: subscribers filter on it (`types=user.*`), so review it
 * like a contract.
 *
 * A capability declares its types twice, once for the compiler and once for the runtime, side by side in its own
 * `events.ts`:
 *
 *   declare module '../events/catalog.ts' { interface FeedEventData { 'user.created': UserWire } }
 *   defineFeedEvents({ 'user.created': { schema: userResponse, description: 'A user was created.' } });
 *
 * `publish` (in-transaction.ts) refuses a type nobody defined and data that does not match its schema, so the catalog
 * in the OpenAPI document (`eventCatalogOpenApi`) is the truth about what the feed contains.
 */
import { z } from 'zod';

/** Type → the `data` of that event type. Capabilities augment this interface (see above). */
export interface FeedEventData {}
export type FeedEventType = keyof FeedEventData & string;

export interface FeedEventDefinition {
  schema: z.ZodType;
  description: string;
}

const definitions = new Map<string, FeedEventDefinition>();

/** Type names: lowercase segments of letters, digits and `_`, separated by dots, at least two segments. */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** Registers feed event types; call at import time of the capability's `events.ts`. */
export function defineFeedEvents(defs: Record<string, FeedEventDefinition>): void {
  for (const [type, def] of Object.entries(defs)) {
    if (!EVENT_TYPE_PATTERN.test(type)) throw new Error(`feed event type ${type} is not a valid name`);
    if (definitions.has(type)) throw new Error(`feed event type ${type} defined twice`);
    definitions.set(type, def);
  }
}

export function feedEventDefinition(type: string): FeedEventDefinition | undefined {
  return definitions.get(type);
}

/** Every defined type, sorted. */
export function feedEventTypes(): string[] {
  return [...definitions.keys()].toSorted();
}

/** The JSON Schema of each type's `data` (zod 4 → JSON Schema draft 2020-12, as OpenAPI 3.1 uses). */
export function feedEventCatalog(): { type: string; description: string; schema: Record<string, unknown> }[] {
  return feedEventTypes().map((type) => {
    const def = definitions.get(type)!;
    return { type, description: def.description, schema: z.toJSONSchema(def.schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown> };
  });
}

/**
 * The catalog as OpenAPI 3.1 `webhooks` (OpenAPI 3.1 §4.8.1: "incoming webhooks that MAY be received"): one entry per
 * event type, whose request body is the event envelope with that type's `data`. The same envelope is what
 * `GET /api/events` returns.
 */
export function eventCatalogOpenApi(): Record<string, unknown> {
  const webhooks: Record<string, unknown> = {};
  for (const { type, description, schema } of feedEventCatalog()) {
    const { $schema: _drop, ...data } = schema;
    webhooks[type] = {
      post: {
        summary: type,
        description,
        tags: ['Events'],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['id', 'type', 'occurredAt', 'position', 'organizationId', 'directoryId', 'data', 'previousAttributes'],
                properties: {
                  id: { type: 'string', format: 'uuid' },
                  type: { const: type },
                  occurredAt: { type: 'string', format: 'date-time' },
                  position: { type: 'string', description: 'Opaque: pass as `after` to read the events that follow this one.' },
                  organizationId: { type: ['string', 'null'], format: 'uuid' },
                  directoryId: { type: ['string', 'null'], format: 'uuid' },
                  data,
                  previousAttributes: { type: ['object', 'null'], description: 'On updates: the changed fields as they were before.' },
                },
              },
            },
          },
        },
        responses: { '2XX': { description: 'Received.' } },
      },
    };
  }
  return webhooks;
}

/**
 * `types` filters: exact names, or a prefix ending in `.*` (`organization.directory.*` matches every type below it),
 * or `*` for everything. Returns the exact names and the prefixes (with their trailing dot).
 */
export function parseTypeFilter(patterns: string[]): { exact: string[]; prefixes: string[]; all: boolean } {
  const exact: string[] = [];
  const prefixes: string[] = [];
  let all = false;
  for (const p of patterns) {
    if (p === '*') all = true;
    else if (p.endsWith('.*')) prefixes.push(p.slice(0, -1));
    else exact.push(p);
  }
  return { exact, prefixes, all };
}

/** Whether `type` is one that `patterns` (as `parseTypeFilter` reads them) selects; the SQL filter's twin in code. */
export function matchesTypeFilter(patterns: string[], type: string): boolean {
  const { exact, prefixes, all } = parseTypeFilter(patterns);
  return all || exact.includes(type) || prefixes.some((p) => type.startsWith(p));
}

/** One `types` entry: a type name, `<prefix>.*`, or `*`. */
export const TYPE_FILTER_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

/**
 * `previous_attributes` of an update: the top-level fields of `before` whose value differs in `after` (compared as
 * JSON), or null when nothing differs.
 */
export function previousAttributes<T extends object>(before: T, after: T): Partial<T> | null {
  const out: Partial<T> = {};
  let changed = false;
  for (const key of Object.keys(before) as (keyof T)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      out[key] = before[key];
      changed = true;
    }
  }
  return changed ? out : null;
}
