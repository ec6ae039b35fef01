/**
 * Server-side sessions in PostgreSQL. The cookie carries 256 random bits; the table keeps only their HMAC, so a
 * database read does not yield usable cookies. Idle and absolute timeouts; a new id at every sign-in (no fixation).
 */
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { generateSecret, type Keyring } from '../platform/crypto.ts';
import { sessions } from '../db/schema/index.ts';
import { publish } from '../events/in-transaction.ts';
import { sessionWire } from './events.ts';

export const SESSION_COOKIE = 'iam_session';
export const SESSION_IDLE_SECONDS = 8 * 3600;
export const SESSION_ABSOLUTE_SECONDS = 24 * 3600;

export interface Session {
  /** A public identifier for `sid` claims: not the cookie value. */
  sid: string;
  userId: string;
  method: string;
  authTime: Date;
}

/** A live session as its user sees it on /account. */
export interface SessionListing extends Session {
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

/** Where a sign-in comes from (kept for the user's own session list). */
export interface SessionClient {
  ip: string;
  userAgent: string | null;
}

export function clientOf(request: { ip: string; headers: { 'user-agent'?: string | undefined } }): SessionClient {
  return { ip: request.ip.slice(0, 64), userAgent: request.headers['user-agent']?.slice(0, 300) ?? null };
}

function sidOf(hash: Buffer): string {
  return hash.subarray(0, 16).toString('base64url');
}

/** A new session for a user who just signed in, with `session.created` in the feed: call it in the sign-in's transaction. */
export async function createSession(tx: TenantScope, keyring: Keyring, userId: string, method: string, client?: SessionClient): Promise<{ cookie: string; session: Session }> {
  const cookie = generateSecret();
  const idHash = keyring.hashSecret(cookie);
  const now = new Date();
  await tx.insert(sessions, {
    idHash,
    userId,
    method,
    authTime: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + SESSION_ABSOLUTE_SECONDS * 1000),
    ip: client?.ip ?? null,
    userAgent: client?.userAgent ?? null,
  });
  const session = { sid: sidOf(idHash), userId, method, authTime: now };
  await publish(tx, { type: 'session.created', data: sessionWire(session) });
  return { cookie, session };
}

type SessionRow = typeof sessions.$inferSelect;

/** Not ended, not past its absolute lifetime, not idle too long. */
function live(row: SessionRow, now: number): boolean {
  return !row.endedAt && row.expiresAt.getTime() >= now && row.lastSeenAt.getTime() + SESSION_IDLE_SECONDS * 1000 >= now;
}

const sessionOf = (r: SessionRow): Session => ({ sid: sidOf(r.idHash), userId: r.userId, method: r.method, authTime: r.authTime });

/** The live session for a cookie value, touching its idle timer; undefined when ended, expired or idle too long. */
export async function findSession(scope: TenantScope, keyring: Keyring, cookie: string | undefined): Promise<Session | undefined> {
  if (!cookie || cookie.length > 100) return undefined;
  const idHash = keyring.hashSecret(cookie);
  const [row] = await scope.select(sessions, eq(sessions.idHash, idHash), isNull(sessions.endedAt));
  const now = Date.now();
  if (!row || !live(row, now)) return undefined;
  // Touch at most once a minute: reads stay reads.
  if (now - row.lastSeenAt.getTime() > 60_000) await scope.update(sessions, { lastSeenAt: new Date(now) }, eq(sessions.idHash, idHash));
  return sessionOf(row);
}

export async function endSession(scope: TenantScope, keyring: Keyring, cookie: string | undefined): Promise<void> {
  if (!cookie || cookie.length > 100) return;
  await scope.update(sessions, { endedAt: new Date() }, and(eq(sessions.idHash, keyring.hashSecret(cookie)), isNull(sessions.endedAt)));
}

/** The user's live sessions, most recently used first. */
export async function listSessions(scope: TenantScope, userId: string): Promise<SessionListing[]> {
  const now = Date.now();
  const rows = await scope.select(sessions, eq(sessions.userId, userId), isNull(sessions.endedAt)).orderBy(desc(sessions.lastSeenAt));
  return rows
    .filter((r) => live(r, now))
    .map((r) => ({ ...sessionOf(r), lastSeenAt: r.lastSeenAt, expiresAt: r.expiresAt, ip: r.ip, userAgent: r.userAgent }));
}

/**
 * Ends the user's own live sessions that `which` selects (one by its public sid, or every one but the current),
 * each with `session.ended` in the feed, in `tx`. The ended sessions (none: the sid names no live session of theirs).
 */
export async function endSessionsOfUser(tx: TenantScope, userId: string, which: { sid: string } | { allBut: string }): Promise<Session[]> {
  const now = Date.now();
  const rows = (await tx.select(sessions, eq(sessions.userId, userId), isNull(sessions.endedAt)).for('update')).filter((r) => live(r, now));
  const chosen = rows.filter((r) => ('sid' in which ? sidOf(r.idHash) === which.sid : sidOf(r.idHash) !== which.allBut));
  if (chosen.length) await tx.update(sessions, { endedAt: new Date(now) }, inArray(sessions.idHash, chosen.map((r) => r.idHash)));
  const ended = chosen.map(sessionOf);
  for (const session of ended) await publish(tx, { type: 'session.ended', data: { ...sessionWire(session), endedBy: 'user' } });
  return ended;
}
