/**
 * Invitations by email (issue #14 item 2; WorkOS's and Scalekit's invitations as the anchors): an organization invites
 * an address with organization roles; the user is created when the tenant has none with that address, and gets a
 * pending membership that grants nothing until the invitation is accepted. No Fastify types here.
 *
 * - The link's token is 256 random bits (platform/crypto.ts `generateSecret`); only its HMAC is stored. It is shown
 *   only inside the email, or once in the creation response when the caller sends it itself (`send: false`).
 * - A link expires after 1–30 days (default 7) and works once: accepting is a conditional UPDATE that only one of
 *   concurrent attempts wins. A resend replaces the token, so every earlier link dies.
 * - Status is derived: revoked, accepted, expired (past `expiresAt`), else pending.
 * - Abuse limits: at most INVITATIONS_PER_DAY new invitations per organization in 24 hours, at most MAX_SENDS emails
 *   per invitation (429 beyond).
 * - Each step (create, resend, revoke, accept) is audited in its own transaction.
 */
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import { generateSecret, type Keyring } from '../platform/crypto.ts';
import { Conflict, Forbidden, NotFound, TooManyRequests } from '../platform/errors/domain.ts';
import { foreignKeyViolation, uniqueViolation } from '../platform/db-errors.ts';
import { decodeCursor, pageOf, type Page } from '../platform/cursor.ts';
import { publish } from '../events/in-transaction.ts';
import { invitationData } from './events.ts';
import { DEFAULT_EXPIRY_DAYS } from './schemas.ts';
import { recordAudit, systemActor, type Actor, type AuditActor } from '../audit/service.ts';
import { createUser, findUserById, updateUser, userForEmail, type User } from '../users/service.ts';
import { activatePendingMembership, addPendingMembership, getOrganization, removePendingMembership } from '../organizations/service.ts';
import { getTenantSettings } from '../tenancy/settings.ts';
import type { Mailer } from '../mail/service.ts';
import { invitationMail } from '../mail/templates.ts';
import type { InvitationSource } from '../db/schema/index.ts';
import { invitationsRepository, type InvitationRow, type InvitationStatus } from './repository.ts';

export const INVITATIONS_PER_DAY = 200;
export const MAX_SENDS = 10;
export const ACCEPT_PATH = '/invitations/accept';
const DAY_MS = 86_400_000;

export interface InvitationDeps {
  mailer: Mailer;
  keyring: Keyring;
}

export interface Invitation {
  id: string;
  organizationId: string | null;
  userId: string;
  email: string;
  roles: string[];
  status: InvitationStatus;
  expiresInDays: number;
  expiresAt: Date;
  invitedBy: string;
  source: InvitationSource;
  sendCount: number;
  lastSentAt: Date | null;
  acceptedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewInvitation {
  email: string;
  roles?: string[] | undefined;
  expiresInDays?: number | undefined;
  /** false: no email; the response carries the link once, for the caller to deliver. Default true. */
  send?: boolean | undefined;
}

export interface InvitationQuery {
  status?: InvitationStatus | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export function statusOf(r: Pick<InvitationRow, 'revokedAt' | 'acceptedAt' | 'expiresAt'>, now = new Date()): InvitationStatus {
  if (r.revokedAt) return 'revoked';
  if (r.acceptedAt) return 'accepted';
  return r.expiresAt.getTime() <= now.getTime() ? 'expired' : 'pending';
}

function toInvitation(r: InvitationRow, now = new Date()): Invitation {
  return {
    id: r.id,
    organizationId: r.organizationId,
    userId: r.userId,
    email: r.email,
    roles: r.roles,
    status: statusOf(r, now),
    expiresInDays: r.expiresInDays,
    expiresAt: r.expiresAt,
    invitedBy: r.invitedBy,
    source: r.source,
    sendCount: r.sendCount,
    lastSentAt: r.lastSentAt,
    acceptedAt: r.acceptedAt,
    revokedAt: r.revokedAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function auditView(inv: Invitation): Record<string, unknown> {
  return { organizationId: inv.organizationId, userId: inv.userId, email: inv.email, roles: inv.roles, status: inv.status, expiresAt: inv.expiresAt.toISOString() };
}

const positionCursor = z.object({ createdAt: z.iso.datetime(), id: z.uuid() });

export function acceptUrl(tenant: Pick<Tenant, 'issuer'>, token: string): string {
  return `${tenant.issuer.replace(/\/+$/, '')}${ACCEPT_PATH}?token=${encodeURIComponent(token)}`;
}

/** A fresh link: the token (for the email) and what is stored of it. */
function newToken(keyring: Keyring): { token: string; hash: Buffer } {
  const token = generateSecret();
  return { token, hash: keyring.hashSecret(token) };
}

/** Queues the invitation email in `tx` (sent once it commits). */
async function queueEmail(tx: TenantScope, deps: InvitationDeps, tenant: Tenant, row: InvitationRow, token: string): Promise<void> {
  const { branding } = await getTenantSettings(tx);
  const organizationName = row.organizationId ? (await getOrganization(tx, row.organizationId)).displayName : null;
  const message = invitationMail({ tenantName: tenant.displayName, logoUrl: branding.logoUrl, color: branding.color }, { to: row.email, organizationName, link: acceptUrl(tenant, token), expiresAt: row.expiresAt });
  await deps.mailer.queue(tx, message);
}

/** The invitee: the user the address names, or a new one (through users/service.ts, audited as user.create). */
async function inviteeFor(tx: TenantScope, actor: Actor, email: string): Promise<{ user: User; created: boolean }> {
  const found = await userForEmail(tx, email);
  if (found.ambiguous) {
    throw new Conflict('Several users of this tenant have this email address; add the right one as a member directly (PUT /members/{userId}).', { field: 'email' });
  }
  if (found.user) {
    if (!found.user.active) throw new Conflict('The user with this email address is deactivated.', { field: 'email', userId: found.user.id });
    return { user: found.user, created: false };
  }
  return { user: await createUser(tx, actor, { email }), created: true };
}

export async function createInvitation(
  scope: TenantScope,
  deps: InvitationDeps,
  tenant: Tenant,
  actor: Actor,
  organizationId: string,
  input: NewInvitation,
): Promise<{ invitation: Invitation; acceptUrl: string | undefined }> {
  const expiresInDays = input.expiresInDays ?? DEFAULT_EXPIRY_DAYS;
  const send = input.send ?? true;
  return scope.transaction(async (tx) => {
    const repo = invitationsRepository(tx);
    await getOrganization(tx, organizationId);
    const now = new Date();
    if ((await repo.countCreatedSince(organizationId, new Date(now.getTime() - DAY_MS))) >= INVITATIONS_PER_DAY) {
      throw new TooManyRequests(`At most ${INVITATIONS_PER_DAY} invitations per organization in 24 hours.`, { limit: INVITATIONS_PER_DAY });
    }
    const { user, created } = await inviteeFor(tx, actor, input.email);
    const existing = await repo.findPendingFor(organizationId, user.id, now);
    if (existing) throw new Conflict('This address already has a pending invitation to this organization; resend or revoke it.', { field: 'email', invitationId: existing.id });
    const membership = await addPendingMembership(tx, organizationId, user.id, input.roles ?? []);
    const { token, hash } = newToken(deps.keyring);
    let row: InvitationRow;
    try {
      row = await repo.insertInvitation({
        organizationId,
        userId: user.id,
        email: input.email,
        roles: membership.roles,
        tokenHash: hash,
        expiresInDays,
        expiresAt: new Date(now.getTime() + expiresInDays * DAY_MS),
        createdUser: created,
        source: 'api',
        invitedBy: actor.id,
        sendCount: send ? 1 : 0,
        lastSentAt: send ? now : null,
        createdAt: now,
      });
    } catch (e) {
      if (foreignKeyViolation(e) === 'invitations_organization_fk') throw new NotFound('No organization with this id in this tenant.');
      // An expired (still open) invitation, or a concurrent invitation of the same address.
      if (uniqueViolation(e) === 'invitations_tenant_id_organization_id_user_id_open_idx') {
        throw new Conflict('This address already has an open (pending or expired) invitation to this organization; resend or revoke it.', { field: 'email' });
      }
      throw e;
    }
    if (send) await queueEmail(tx, deps, tenant, row, token);
    const invitation = toInvitation(row, now);
    await recordAudit(tx, actor, { action: 'invitation.create', targetType: 'invitation', targetId: row.id, after: { ...auditView(invitation), userCreated: created, send } });
    await publish(tx, { type: 'invitation.created', organizationId, data: invitationData(invitation) });
    return { invitation, acceptUrl: send ? undefined : acceptUrl(tenant, token) };
  });
}

export async function getInvitation(scope: TenantScope, organizationId: string, id: string): Promise<Invitation> {
  const row = await invitationsRepository(scope).findInvitation(organizationId, id);
  if (!row) throw new NotFound('No invitation with this id in this organization.');
  return toInvitation(row);
}

export async function listInvitations(scope: TenantScope, organizationId: string, query: InvitationQuery = {}): Promise<Page<Invitation>> {
  await getOrganization(scope, organizationId);
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, positionCursor) : undefined;
  const now = new Date();
  const rows = await invitationsRepository(scope).listInvitations(organizationId, { status: query.status, now, after, limit: limit + 1 });
  return pageOf(rows, limit, (r) => toInvitation(r, now), (r) => ({ createdAt: r.createdAt.toISOString(), id: r.id }));
}

/**
 * A new email with a new link and a new expiry (`expiresInDays` from now); every earlier link stops working. For a
 * pending or expired invitation; 409 for an accepted or revoked one.
 */
export async function resendInvitation(scope: TenantScope, deps: InvitationDeps, tenant: Tenant, actor: Actor, organizationId: string, id: string): Promise<Invitation> {
  return scope.transaction(async (tx) => {
    const repo = invitationsRepository(tx);
    const current = await repo.findInvitation(organizationId, id, { lock: true });
    if (!current) throw new NotFound('No invitation with this id in this organization.');
    const now = new Date();
    const status = statusOf(current, now);
    if (status === 'accepted' || status === 'revoked') throw new Conflict(`This invitation is ${status}; it cannot be sent again.`, { invitationStatus: status });
    if (current.sendCount >= MAX_SENDS) throw new TooManyRequests(`An invitation is sent at most ${MAX_SENDS} times; revoke it and invite again.`, { limit: MAX_SENDS });
    // An expired invitation's membership may have been removed meanwhile: it is pending again.
    await addPendingMembership(tx, organizationId, current.userId, current.roles);
    const { token, hash } = newToken(deps.keyring);
    const row = (await repo.replaceToken(id, hash, new Date(now.getTime() + current.expiresInDays * DAY_MS), now))!;
    await queueEmail(tx, deps, tenant, row, token);
    const invitation = toInvitation(row, now);
    await recordAudit(tx, actor, { action: 'invitation.resend', targetType: 'invitation', targetId: id, before: auditView(toInvitation(current, now)), after: auditView(invitation) });
    await publish(tx, { type: 'invitation.resent', organizationId, data: invitationData(invitation) });
    return invitation;
  });
}

/** Revokes a pending or expired invitation; its link dies and its pending membership goes (an active one stays). */
export async function revokeInvitation(scope: TenantScope, actor: Actor, organizationId: string, id: string): Promise<Invitation> {
  return scope.transaction(async (tx) => {
    const repo = invitationsRepository(tx);
    const current = await repo.findInvitation(organizationId, id, { lock: true });
    if (!current) throw new NotFound('No invitation with this id in this organization.');
    const now = new Date();
    const status = statusOf(current, now);
    if (status === 'accepted' || status === 'revoked') throw new Conflict(`This invitation is ${status}; it cannot be revoked.`, { invitationStatus: status });
    const row = (await repo.markRevoked(id, now))!;
    const membershipRemoved = await removePendingMembership(tx, organizationId, current.userId);
    const invitation = toInvitation(row, now);
    await recordAudit(tx, actor, { action: 'invitation.revoke', targetType: 'invitation', targetId: id, before: auditView(toInvitation(current, now)), after: { ...auditView(invitation), membershipRemoved } });
    await publish(tx, { type: 'invitation.revoked', organizationId, data: invitationData(invitation) });
    return invitation;
  });
}

/**
 * STACKIT's `sendInvitation: true` (src/scim/invitations.ts): a tenant-level invitation (no organization) for a user
 * SCIM created in `tx`, emailed through the same queue. A user without an email address gets none (undefined).
 */
export async function inviteToTenant(tx: TenantScope, deps: InvitationDeps, tenant: Tenant, actor: Actor, user: Pick<User, 'id' | 'email'>, source: InvitationSource): Promise<Invitation | undefined> {
  if (!user.email) return undefined;
  const now = new Date();
  const { token, hash } = newToken(deps.keyring);
  const row = await invitationsRepository(tx).insertInvitation({
    organizationId: null,
    userId: user.id,
    email: user.email,
    roles: [],
    tokenHash: hash,
    expiresInDays: DEFAULT_EXPIRY_DAYS,
    expiresAt: new Date(now.getTime() + DEFAULT_EXPIRY_DAYS * DAY_MS),
    createdUser: true,
    source,
    invitedBy: actor.id,
    sendCount: 1,
    lastSentAt: now,
    createdAt: now,
  });
  await queueEmail(tx, deps, tenant, row, token);
  const invitation = toInvitation(row, now);
  await recordAudit(tx, actor, { action: 'invitation.create', targetType: 'invitation', targetId: row.id, after: { ...auditView(invitation), source } });
  await publish(tx, { type: 'invitation.created', organizationId: null, data: invitationData(invitation) });
  return invitation;
}

// ---- Acceptance (the invitee's side, src/invitations/accept-routes.ts) ----

export interface PresentedInvitation {
  invitation: Invitation;
  user: User;
  organizationName: string | null;
  /** The invitee may choose their first password here: the invitation created the account and it has none. */
  maySetPassword: boolean;
}

/** The invitation a link's token names, in whatever state; undefined for a token that names none. */
export async function findByToken(scope: TenantScope, keyring: Keyring, token: string): Promise<PresentedInvitation | undefined> {
  // generateSecret: 43 base64url characters; anything else names nothing, and is not hashed or looked up.
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const row = await invitationsRepository(scope).findByTokenHash(keyring.hashSecret(token));
  if (!row) return undefined;
  const user = await findUserById(scope, row.userId);
  if (!user) return undefined;
  const organizationName = row.organizationId ? (await getOrganization(scope, row.organizationId)).displayName : null;
  return { invitation: toInvitation(row), user, organizationName, maySetPassword: row.createdUser && !user.passwordSet };
}

export type AcceptOutcome = { ok: true; invitation: Invitation; userId: string } | { ok: false; reason: 'invalid' | 'used' };

/**
 * Accepts the invitation `token` names, once: the membership becomes active, the email counts as verified (the
 * link reached it), and `password`, when given (the caller checked `maySetPassword` and the password policy), is
 * set. `alsoInTransaction` runs in the same transaction (the sign-in session). Audited as invitation.accept.
 */
export async function acceptInvitation(
  scope: TenantScope,
  keyring: Keyring,
  token: string,
  opts: { password?: string | undefined; ip: string; alsoInTransaction?: ((tx: TenantScope, userId: string) => Promise<void>) | undefined },
): Promise<AcceptOutcome> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return { ok: false, reason: 'invalid' };
  const hash = keyring.hashSecret(token);
  return scope.transaction(async (tx) => {
    const now = new Date();
    const row = await invitationsRepository(tx).consume(hash, now);
    if (!row) return { ok: false, reason: (await invitationsRepository(tx).findByTokenHash(hash)) ? 'used' : 'invalid' };
    const user = await findUserById(tx, row.userId);
    if (!user?.active) throw new Forbidden('This account is deactivated.');
    if (opts.password !== undefined && !(row.createdUser && !user.passwordSet)) throw new Forbidden('This invitation cannot set a password for this account.');
    const actor: AuditActor = { type: 'user', id: row.userId, ip: opts.ip };
    const membership = row.organizationId ? await activatePendingMembership(tx, row.organizationId, row.userId) : undefined;
    // The link reached this address: it is verified. The change is the invitation's, by the service.
    await updateUser(tx, systemActor(`invitation:${row.id}`, opts.ip), row.userId, { ...(user.email === row.email ? { emailVerified: true } : {}), ...(opts.password !== undefined ? { password: opts.password } : {}) });
    const invitation = toInvitation(row, now);
    await recordAudit(tx, actor, {
      action: 'invitation.accept',
      targetType: 'invitation',
      targetId: row.id,
      after: { ...auditView(invitation), membershipActivated: membership !== undefined, passwordSet: opts.password !== undefined },
    });
    await publish(tx, { type: 'invitation.accepted', organizationId: row.organizationId, data: invitationData(invitation) });
    await opts.alsoInTransaction?.(tx, row.userId);
    return { ok: true, invitation, userId: row.userId };
  });
}
