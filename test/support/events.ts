/**
 * Reading the event feed in tests. An event becomes readable once every transaction that began writing before it has
 * ended, and parallel test files keep transactions of their own running, so readers poll (no timing assertion: the
 * deadline only turns a hang into a failure).
 */
import { expect } from 'vitest';
import type { Api } from './api.ts';

export interface WireEvent {
  id: string;
  type: string;
  occurredAt: string;
  position: string;
  organizationId: string | null;
  directoryId: string | null;
  data: Record<string, any>;
  previousAttributes: Record<string, any> | null;
}

export interface FeedPage {
  items: WireEvent[];
  nextCursor: string | null;
  hasMore: boolean;
}

export async function feedPage(api: Api, query: Record<string, string | undefined> = {}, headers: Record<string, string> = {}): Promise<FeedPage> {
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const res = await api.call('GET', `/api/events${qs ? `?${qs}` : ''}`, undefined, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** Every event readable now after `after`, following pages. */
export async function drain(api: Api, after: string | null, query: Record<string, string> = {}): Promise<{ items: WireEvent[]; cursor: string | null }> {
  const items: WireEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await feedPage(api, { ...query, after: cursor ?? undefined, limit: '500' });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!page.hasMore) return { items, cursor };
  }
}

/** The cursor at the end of the feed as readable now (start of a test). */
export async function endOfFeed(api: Api): Promise<string | null> {
  return (await drain(api, null)).cursor;
}

/** Polls until at least `count` events follow `after` (matching `query`), and returns all that do. */
export async function eventsAfter(api: Api, after: string | null, count: number, query: Record<string, string> = {}): Promise<WireEvent[]> {
  const deadline = Date.now() + 20_000;
  const items: WireEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await drain(api, cursor, query);
    items.push(...page.items);
    cursor = page.cursor;
    if (items.length >= count || Date.now() > deadline) return items;
    await new Promise((r) => setTimeout(r, 25));
  }
}
