/**
 * Opaque pagination cursors for `/api` lists: base64url of a small JSON value naming the last item of a page.
 * Clients pass `nextCursor` back unchanged; anything else is a 400, never a 500 and never a silent first page.
 */
import { z } from 'zod';
import { Invalid } from './errors/domain.ts';

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    raw = undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Invalid('The cursor is not valid. Pass `nextCursor` from the previous page unchanged.', { parameter: 'cursor' });
  return parsed.data;
}

/** A page: at most `limit` items and, when more follow, the cursor for the next page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Builds a page from `limit + 1` fetched rows. */
export function pageOf<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => unknown): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(map), nextCursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}

/** `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
