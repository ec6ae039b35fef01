/**
 * The Admin Portal's rules (issue #14 item 3), free of HTTP:
 * - A link is created for one organization and one intent, lives `ttlSeconds` (default 5 minutes, WorkOS's), and
 *   opens one session, once: its token is 256 random bits, stored as an HMAC, used up by a conditional UPDATE so two
 *   browsers racing on one link cannot both win.
 * - The session it opens is server-side like the sign-in sessions (signin/sessions.ts): the cookie holds random bits,
 *   the table their HMAC, with idle and absolute limits, scoped to the link's organization and intent.
 * - What the portal changes goes through the owning capabilities' services with an actor `system:portal:<link id>`
 *   that holds an organization-scoped authority, so each change is audited and traceable to the link (and so to
 *   whoever created it).
 * - The tenant's framing policy: origins allowed to embed the portal (CSP frame-ancestors), audited.
 */
import type { TenantScope } from '../platform/db.ts';
import { generateSecret, type Keyring } from '../platform/crypto.ts';
import { organizationAuthority } from '../platform/permissions.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { getOrganization } from '../organizations/service.ts';
import type { PortalIntent } from '../db/schema/index.ts';
import { portalRepository, type PortalLinkRow, type PortalSessionRow } from './repository.ts';
import { randomUUID } from 'node:crypto';

export const PORTAL_PREFIX = '/portal';
export const PORTAL_LAUNCH_PATH = `${PORTAL_PREFIX}/launch`;
export const PORTAL_COOKIE = 'iam_portal';
export const PORTAL_SESSION_SECONDS = 3600;
export const PORTAL_IDLE_SECONDS = 1800;
export const DEFAULT_LINK_TTL_SECONDS = 300;
export const MAX_FRAME_ANCESTORS = 20;

export interface PortalClock {
  now?: (() => Date) | undefined;
}
const nowOf = (c: PortalClock) => c.now?.() ?? new Date();

export interface PortalLink {
  id: string;
  organizationId: string;
  intent: PortalIntent;
  returnUrl: string | null;
  expiresAt: Date;
  createdAt: Date;
}

export interface PortalSession {
  linkId: string;
  organizationId: string;
  intent: PortalIntent;
  returnUrl: string | null;
  /** The id a connection created in this session takes (our SAML/OIDC URLs are shown before it exists). */
  draftConnectionId: string;
  expiresAt: Date;
}

const toLink = (r: PortalLinkRow): PortalLink => ({ id: r.id, organizationId: r.organizationId, intent: r.intent, returnUrl: r.returnUrl, expiresAt: r.expiresAt, createdAt: r.createdAt });
const toSession = (r: PortalSessionRow): PortalSession => ({ linkId: r.linkId, organizationId: r.organizationId, intent: r.intent, returnUrl: r.returnUrl, draftConnectionId: r.draftConnectionId, expiresAt: r.expiresAt });

export function portalLinkUrl(issuer: string, token: string): string {
  return `${issuer.replace(/\/$/, '')}${PORTAL_LAUNCH_PATH}?${new URLSearchParams({ token }).toString()}`;
}

export async function createPortalLink(
  scope: TenantScope,
  keyring: Keyring,
  actor: Actor,
  issuer: string,
  organizationId: string,
  input: { intent: PortalIntent; returnUrl?: string | undefined },
  opts: PortalClock & { ttlSeconds?: number } = {},
): Promise<PortalLink & { url: string }> {
  return scope.transaction(async (tx) => {
    await getOrganization(tx, organizationId);
    const token = generateSecret();
    const now = nowOf(opts);
    const row = await portalRepository(tx).insertLink({
      organizationId,
      intent: input.intent,
      returnUrl: input.returnUrl ?? null,
      tokenHash: keyring.hashSecret(token),
      expiresAt: new Date(now.getTime() + (opts.ttlSeconds ?? DEFAULT_LINK_TTL_SECONDS) * 1000),
      createdBy: `${actor.type}:${actor.id}`,
      createdAt: now,
    });
    const link = toLink(row);
    await recordAudit(tx, actor, { action: 'portal.link.create', targetType: 'organization', targetId: organizationId, after: { linkId: link.id, intent: link.intent, returnUrl: link.returnUrl, expiresAt: link.expiresAt.toISOString() } });
    return { ...link, url: portalLinkUrl(issuer, token) };
  });
}

export type OpenOutcome = { ok: true; cookie: string; session: PortalSession } | { ok: false; reason: 'invalid' | 'used' | 'expired' };

/**
 * Opens the session of the link `token` names, once. Refusals of a link that exists (used, expired) are audited:
 * a second opening is what a stolen or forwarded link looks like.
 */
export async function openPortalLink(scope: TenantScope, keyring: Keyring, token: string, ip: string, clock: PortalClock = {}): Promise<OpenOutcome> {
  if (!token || token.length > 100) return { ok: false, reason: 'invalid' };
  return scope.transaction(async (tx) => {
    const repo = portalRepository(tx);
    const link = await repo.linkByHash(keyring.hashSecret(token));
    if (!link) return { ok: false, reason: 'invalid' } as const;
    const now = nowOf(clock);
    const audit = { type: 'system' as const, id: `portal:${link.id}`, ip };
    const used = await repo.useLink(link.id, now);
    if (!used) {
      const reason = link.usedAt ? ('used' as const) : ('expired' as const);
      await recordAudit(tx, audit, { action: 'portal.link.refused', targetType: 'organization', targetId: link.organizationId, after: { linkId: link.id, intent: link.intent, reason } });
      return { ok: false, reason };
    }
    const cookie = generateSecret();
    const expiresAt = new Date(now.getTime() + PORTAL_SESSION_SECONDS * 1000);
    const draftConnectionId = randomUUID();
    await repo.insertSession({ idHash: keyring.hashSecret(cookie), linkId: link.id, organizationId: link.organizationId, intent: link.intent, returnUrl: link.returnUrl, draftConnectionId, lastSeenAt: now, expiresAt, createdAt: now });
    await recordAudit(tx, audit, { action: 'portal.session.start', targetType: 'organization', targetId: link.organizationId, after: { linkId: link.id, intent: link.intent, expiresAt: expiresAt.toISOString() } });
    return { ok: true, cookie, session: { linkId: link.id, organizationId: link.organizationId, intent: link.intent, returnUrl: link.returnUrl, draftConnectionId, expiresAt } };
  });
}

/** The live portal session of a cookie value, touching its idle timer; undefined when ended, expired or idle. */
export async function findPortalSession(scope: TenantScope, keyring: Keyring, cookie: string | undefined, clock: PortalClock = {}): Promise<PortalSession | undefined> {
  if (!cookie || cookie.length > 100) return undefined;
  const idHash = keyring.hashSecret(cookie);
  const repo = portalRepository(scope);
  const row = await repo.liveSession(idHash);
  const now = nowOf(clock).getTime();
  if (!row || row.expiresAt.getTime() <= now || row.lastSeenAt.getTime() + PORTAL_IDLE_SECONDS * 1000 <= now) return undefined;
  if (now - row.lastSeenAt.getTime() > 60_000) await repo.touchSession(idHash, new Date(now));
  return toSession(row);
}

/** After a connection took the session's reserved id: the next one gets a fresh id (and so other URLs). */
export async function renewDraftConnectionId(scope: TenantScope, keyring: Keyring, cookie: string): Promise<void> {
  await portalRepository(scope).setDraftConnectionId(keyring.hashSecret(cookie), randomUUID());
}

export async function endPortalSession(scope: TenantScope, keyring: Keyring, cookie: string, session: PortalSession, ip: string): Promise<void> {
  await scope.transaction(async (tx) => {
    if (await portalRepository(tx).endSession(keyring.hashSecret(cookie), new Date())) {
      await recordAudit(tx, portalActor(session, ip), { action: 'portal.session.end', targetType: 'organization', targetId: session.organizationId, after: { linkId: session.linkId } });
    }
  });
}

/**
 * Who acts in the portal: the link, confined to its organization. Services check grants against this authority
 * (organization management and directories of that organization only), and the trail records `system:portal:<link>`.
 */
export function portalActor(session: PortalSession, ip: string): Actor {
  return { type: 'system', id: `portal:${session.linkId}`, ip, authority: organizationAuthority(session.organizationId) };
}

export interface PortalSettings {
  /** Origins (`https://app.example.com`) that may embed the portal in a frame; empty: nobody. */
  frameAncestors: string[];
}

export async function getPortalSettings(scope: TenantScope): Promise<PortalSettings> {
  return (await portalRepository(scope).settings()) ?? { frameAncestors: [] };
}

export async function updatePortalSettings(scope: TenantScope, actor: Actor, settings: PortalSettings): Promise<PortalSettings> {
  return scope.transaction(async (tx) => {
    const repo = portalRepository(tx);
    const before = (await repo.settings()) ?? { frameAncestors: [] };
    const frameAncestors = [...new Set(settings.frameAncestors)];
    const after = await repo.upsertSettings(frameAncestors);
    if (JSON.stringify(before.frameAncestors) !== JSON.stringify(after.frameAncestors)) {
      await recordAudit(tx, actor, { action: 'portal.settings.update', targetType: 'tenant', targetId: tx.tenantId, before: { ...before }, after: { ...after } });
    }
    return after;
  });
}
