/**
 * Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3): filter, sortBy/sortOrder, startIndex/count,
 * attributes/excludedAttributes. https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2
 */
import type { SQL } from 'drizzle-orm';
import type { AttrPath, Filter } from './filter/ast.ts';
import { splitAttrPath } from './filter/attr-path.ts';
import { parseClientFilter } from './filter/dialect.ts';
import { compileFilter, type FilterMapping } from './filter/to-sql.ts';
import { badRequest } from './errors.ts';
import { parseProjection, type Projection } from './projection.ts';
import { LIST_RESPONSE, SEARCH_REQUEST, type ResourceTypeDef } from './schema/definitions.ts';
import type { Resource } from './schema/validate.ts';

/** Advertised as filter.maxResults: a page never holds more; asking for more is 400 tooMany. */
export const MAX_RESULTS = 1000;
export const DEFAULT_COUNT = 100;

export interface ListParams {
  filter?: unknown;
  sortBy?: unknown;
  sortOrder?: unknown;
  startIndex?: unknown;
  count?: unknown;
  attributes?: unknown;
  excludedAttributes?: unknown;
}

export interface ListQuery {
  filter: Filter | undefined;
  sortBy: AttrPath | undefined;
  descending: boolean;
  startIndex: number;
  count: number;
  projection: Projection;
}

function integer(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,12}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badRequest('invalidValue', `"${name}" must be an integer.`);
  return n;
}

function text(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  if (typeof v !== 'string') throw badRequest('invalidValue', `"${name}" must be given once, as a string.`);
  return v;
}

export function parseListQuery(type: ResourceTypeDef, p: ListParams): ListQuery {
  const filterText = p.filter === undefined ? undefined : typeof p.filter === 'string' ? p.filter : badRequest('invalidFilter', '"filter" must be given once, as a string.');
  if (filterText instanceof Error) throw filterText;
  const filter = filterText === undefined || filterText.trim() === '' ? undefined : parseClientFilter(filterText);
  const sortText = text(p.sortBy, 'sortBy');
  let sortBy: AttrPath | undefined;
  if (sortText) {
    const sp = splitAttrPath(sortText.trim(), false);
    if (typeof sp === 'string') throw badRequest('invalidValue', `"sortBy": ${sp}.`);
    sortBy = sp;
  }
  const order = text(p.sortOrder, 'sortOrder')?.toLowerCase();
  if (order !== undefined && order !== 'ascending' && order !== 'descending') throw badRequest('invalidValue', '"sortOrder" must be "ascending" or "descending".');
  // §3.4.2.4: startIndex below 1 is taken as 1; a negative count as 0.
  const startIndex = Math.max(1, integer(p.startIndex, 'startIndex') ?? 1);
  const count = Math.max(0, integer(p.count, 'count') ?? DEFAULT_COUNT);
  if (count > MAX_RESULTS) throw badRequest('tooMany', `"count" may be at most ${MAX_RESULTS} (filter.maxResults); page with startIndex.`);
  return {
    filter,
    sortBy,
    descending: order === 'descending',
    startIndex,
    count,
    projection: parseProjection(type, text(p.attributes, 'attributes'), text(p.excludedAttributes, 'excludedAttributes')),
  };
}

/** The body of POST /.search (§3.4.3): the same parameters, with attribute lists as arrays. */
export function searchParams(body: unknown): ListParams {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalidSyntax', 'The body must be a SearchRequest object.');
  const b = body as Record<string, unknown>;
  const schemas = b.schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.includes(SEARCH_REQUEST))) throw badRequest('invalidSyntax', `"schemas" must be ["${SEARCH_REQUEST}"].`);
  const known = new Set(['schemas', 'filter', 'sortBy', 'sortOrder', 'startIndex', 'count', 'attributes', 'excludedAttributes']);
  for (const k of Object.keys(b)) if (!known.has(k)) throw badRequest('invalidSyntax', `Unknown SearchRequest member "${k}".`);
  return b as ListParams;
}

export function whereOf(filter: Filter | undefined, mapping: FilterMapping): SQL | undefined {
  return filter ? compileFilter(filter, mapping) : undefined;
}

export function listResponse(totalResults: number, startIndex: number, resources: Resource[]) {
  return { schemas: [LIST_RESPONSE], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
