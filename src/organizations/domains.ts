/**
 * Organization domains and their proof of ownership, the rules.
 *
 * Adding a domain shows a DNS TXT challenge: the record `_iam-challenge.<domain>` with the value
 * `iam-domain-verification=<token>`. A domain stays `pending` while the re-check job (domain-verification.global.ts)
 * looks for that record with backoff: one minute after it was added, then 2, 4, 8 … minutes, at most an hour apart.
 * Found: `verified` (method `dns`). Not found by the end of the verification window (7 days after it was added):
 * `failed`; delete it and add it again for a new window. "Verify now" runs the same check at once, and an admin may
 * mark a domain verified by hand (method `manual`, audited).
 *
 * A verified domain belongs to one organization per tenant (a unique partial index); several organizations may hold
 * pending claims, and the first to prove it wins. Only verified domains count (`organizationForVerifiedDomain`).
 * Matching is exact: `eu.example.com` is its own domain, not covered by `example.com`.
 */
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Invalid, NotFound } from '../platform/errors/domain.ts';
import { uniqueViolation } from '../platform/db-errors.ts';
import { generateSecret, safeEqual } from '../platform/crypto.ts';
import { recordAudit, systemActor, type Actor } from '../audit/service.ts';
import type { DomainStatus, DomainVerificationMethod } from '../db/schema/index.ts';
import { organizationsRepository, type DomainChanges, type DomainRow } from './repository.ts';
import { publish } from '../events/in-transaction.ts';
import { domainData } from './events.ts';
import { CHALLENGE_LABEL, canonicalDomain, tryCanonicalDomain } from './domain-name.ts';
import { lookupTxt, type TxtLookup, type TxtResolver } from './dns.ts';

export const DOMAIN_VERIFICATION_WINDOW_MS = 7 * 86_400_000;
export const RECHECK_FIRST_DELAY_MS = 60_000;
export const RECHECK_MAX_DELAY_MS = 3_600_000;
export const MAX_DOMAINS_PER_ORGANIZATION = 100;
export const TXT_VALUE_PREFIX = 'iam-domain-verification=';

/** The audit actor of the re-check job. */
export const DOMAIN_JOB_ACTOR: Actor = systemActor('organization-domain-verification');

export interface DomainClock {
  /** The clock; tests move it past the window. Default: the system clock. */
  now?: (() => Date) | undefined;
}

export interface DomainDeps extends DomainClock {
  resolver: TxtResolver;
}

export interface OrganizationDomain {
  id: string;
  organizationId: string;
  domain: string;
  status: DomainStatus;
  verificationMethod: DomainVerificationMethod | null;
  /** The record to publish. */
  txtRecord: { name: string; value: string };
  attempts: number;
  lastCheckedAt: Date | null;
  lastError: string | null;
  nextCheckAt: Date | null;
  expiresAt: Date;
  verifiedAt: Date | null;
  failedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const nowOf = (deps: DomainClock) => deps.now?.() ?? new Date();

export function challengeName(domain: string): string {
  return `${CHALLENGE_LABEL}.${domain}`;
}

function toDomain(r: DomainRow): OrganizationDomain {
  return {
    id: r.id,
    organizationId: r.organizationId,
    domain: r.domain,
    status: r.status,
    verificationMethod: r.verificationMethod,
    txtRecord: { name: challengeName(r.domain), value: `${TXT_VALUE_PREFIX}${r.verificationToken}` },
    attempts: r.attempts,
    lastCheckedAt: r.lastCheckedAt,
    lastError: r.lastError,
    nextCheckAt: r.nextCheckAt,
    expiresAt: r.expiresAt,
    verifiedAt: r.verifiedAt,
    failedAt: r.failedAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function auditView(r: DomainRow): Record<string, unknown> {
  return { organizationId: r.organizationId, domain: r.domain, status: r.status, verificationMethod: r.verificationMethod };
}

/** The wait after the `attempts`-th unsuccessful check: 1, 2, 4, … minutes, at most an hour. */
export function recheckDelayMs(attempts: number): number {
  return Math.min(RECHECK_FIRST_DELAY_MS * 2 ** Math.max(attempts - 1, 0), RECHECK_MAX_DELAY_MS);
}

const CLAIMED = 'This domain is verified by another organization in this tenant.';

export async function addDomain(scope: TenantScope, actor: Actor, organizationId: string, input: string, deps: DomainClock = {}): Promise<OrganizationDomain> {
  const domain = canonicalDomain(input);
  const now = nowOf(deps);
  return scope.transaction(async (tx) => {
    const repo = organizationsRepository(tx);
    if (!(await repo.lockOrganization(organizationId))) throw new NotFound('No organization with this id in this tenant.');
    if ((await repo.countDomains(organizationId)) >= MAX_DOMAINS_PER_ORGANIZATION) {
      throw new Invalid(`An organization has at most ${MAX_DOMAINS_PER_ORGANIZATION} domains.`, { field: 'domain' });
    }
    if (await repo.findVerifiedDomain(domain, { exceptOrganization: organizationId })) throw new Conflict(CLAIMED, { field: 'domain' });
    let row: DomainRow;
    try {
      row = await repo.insertDomain({
        organizationId,
        domain,
        verificationToken: generateSecret(),
        expiresAt: new Date(now.getTime() + DOMAIN_VERIFICATION_WINDOW_MS),
        nextCheckAt: new Date(now.getTime() + RECHECK_FIRST_DELAY_MS),
        createdAt: now,
      });
    } catch (e) {
      if (uniqueViolation(e) === 'organization_domains_tenant_id_organization_id_domain_idx') {
        throw new Conflict('This organization already has this domain.', { field: 'domain' });
      }
      throw e;
    }
    await recordAudit(tx, actor, { action: 'organization.domain.add', targetType: 'organization', targetId: organizationId, after: auditView(row) });
    await publish(tx, { type: 'domain.created', organizationId, data: domainData(toDomain(row)) });
    return toDomain(row);
  });
}

export async function listDomains(scope: TenantScope, organizationId: string): Promise<OrganizationDomain[]> {
  const repo = organizationsRepository(scope);
  if (!(await repo.findOrganization(organizationId))) throw new NotFound('No organization with this id in this tenant.');
  return (await repo.listDomains(organizationId)).map(toDomain);
}

async function findOrThrow(scope: TenantScope, organizationId: string, id: string, opts: { lock?: boolean } = {}): Promise<DomainRow> {
  const row = await organizationsRepository(scope).findDomain(organizationId, id, opts);
  if (!row) throw new NotFound('No domain with this id in this organization.');
  return row;
}

export async function getDomain(scope: TenantScope, organizationId: string, id: string): Promise<OrganizationDomain> {
  return toDomain(await findOrThrow(scope, organizationId, id));
}

export async function deleteDomain(scope: TenantScope, actor: Actor, organizationId: string, id: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const removed = await organizationsRepository(tx).deleteDomain(organizationId, id);
    if (!removed) throw new NotFound('No domain with this id in this organization.');
    await recordAudit(tx, actor, { action: 'organization.domain.delete', targetType: 'organization', targetId: organizationId, before: auditView(removed) });
    await publish(tx, { type: 'domain.deleted', organizationId, data: domainData(toDomain(removed)) });
  });
}

/** Whether any TXT value equals the expected one (constant-time per value). */
function proves(lookup: TxtLookup, row: DomainRow): boolean {
  if (!('found' in lookup)) return false;
  const expected = Buffer.from(`${TXT_VALUE_PREFIX}${row.verificationToken}`);
  return lookup.found.some((v) => safeEqual(Buffer.from(v.trim()), expected));
}

function reasonOf(lookup: TxtLookup, name: string): string {
  if ('error' in lookup) return lookup.error;
  return lookup.found.length
    ? `The TXT records at ${name} do not include the expected value.`
    : `No TXT record at ${name}.`;
}

type CheckResult = { row: DomainRow; claimedElsewhere: boolean };

/**
 * Applies one DNS check's outcome to a pending domain (inside `tx`, row locked): verified, or the next check
 * scheduled with backoff, or failed when the window has ended.
 */
async function applyCheck(tx: TenantScope, actor: Actor, row: DomainRow, lookup: TxtLookup, now: Date): Promise<CheckResult> {
  const repo = organizationsRepository(tx);
  const attempts = row.attempts + 1;
  let claimedElsewhere = false;
  if (proves(lookup, row)) {
    claimedElsewhere = (await repo.findVerifiedDomain(row.domain, { exceptOrganization: row.organizationId })) !== undefined;
    if (!claimedElsewhere) {
      const verified = await repo.updateDomain(row.id, {
        status: 'verified',
        verificationMethod: 'dns',
        attempts,
        lastCheckedAt: now,
        lastError: null,
        nextCheckAt: null,
        verifiedAt: now,
      });
      await recordAudit(tx, actor, { action: 'organization.domain.verify', targetType: 'organization', targetId: row.organizationId, before: auditView(row), after: auditView(verified!) });
      await publish(tx, { type: 'domain.verified', organizationId: row.organizationId, data: domainData(toDomain(verified!)) });
      return { row: verified!, claimedElsewhere };
    }
  }
  const lastError = claimedElsewhere ? CLAIMED : reasonOf(lookup, challengeName(row.domain));
  const changes: DomainChanges = { attempts, lastCheckedAt: now, lastError };
  if (now.getTime() >= row.expiresAt.getTime()) {
    const failed = await repo.updateDomain(row.id, { ...changes, status: 'failed', nextCheckAt: null, failedAt: now });
    await recordAudit(tx, actor, { action: 'organization.domain.fail', targetType: 'organization', targetId: row.organizationId, before: auditView(row), after: { ...auditView(failed!), lastError } });
    await publish(tx, { type: 'domain.verification_failed', organizationId: row.organizationId, data: domainData(toDomain(failed!)) });
    return { row: failed!, claimedElsewhere };
  }
  const next = Math.min(now.getTime() + recheckDelayMs(attempts), row.expiresAt.getTime());
  return { row: (await repo.updateDomain(row.id, { ...changes, nextCheckAt: new Date(next) }))!, claimedElsewhere };
}

/** Looks the record up (outside any transaction), then applies the outcome if the domain is still pending. */
async function check(scope: TenantScope, actor: Actor, organizationId: string | undefined, id: string, deps: DomainDeps): Promise<CheckResult | undefined> {
  const row = await organizationsRepository(scope).findDomain(organizationId, id);
  if (!row || row.status !== 'pending') return undefined;
  const lookup = await lookupTxt(deps.resolver, challengeName(row.domain));
  return scope.transaction(async (tx) => {
    const locked = await organizationsRepository(tx).findDomain(organizationId, id, { lock: true });
    // Changed meanwhile (verified by hand, deleted, or checked by someone else): that outcome stands.
    if (!locked || locked.status !== 'pending' || locked.attempts !== row.attempts) return undefined;
    try {
      return await applyCheck(tx, actor, locked, lookup, nowOf(deps));
    } catch (e) {
      // Another organization verified the same domain between our look and our write.
      if (uniqueViolation(e) === 'organization_domains_tenant_id_domain_verified_idx') throw new Conflict(CLAIMED, { field: 'domain' });
      throw e;
    }
  });
}

/**
 * "Verify now": one DNS check at once. A verified domain is returned as it is; a failed one is a 409 (its window has
 * ended); a proven domain verified by another organization is a 409.
 */
export async function verifyDomainNow(scope: TenantScope, actor: Actor, organizationId: string, id: string, deps: DomainDeps): Promise<OrganizationDomain> {
  const row = await findOrThrow(scope, organizationId, id);
  if (row.status === 'failed') throw new Conflict('The verification window of this domain has ended. Delete the domain and add it again.', { domainStatus: 'failed' });
  const result = await check(scope, actor, organizationId, id, deps);
  if (result?.claimedElsewhere) throw new Conflict(CLAIMED, { field: 'domain' });
  return getDomain(scope, organizationId, id);
}

/** The re-check job's step for one domain; never throws for an outcome, only for a fault. */
export async function recheckDomain(scope: TenantScope, id: string, deps: DomainDeps): Promise<DomainStatus | undefined> {
  try {
    return (await check(scope, DOMAIN_JOB_ACTOR, undefined, id, deps))?.row.status;
  } catch (e) {
    if (e instanceof Conflict) return 'pending';
    throw e;
  }
}

/** An admin vouches for the domain (pending or failed): verified with method `manual`, audited. */
export async function markDomainVerified(scope: TenantScope, actor: Actor, organizationId: string, id: string, deps: DomainClock = {}): Promise<OrganizationDomain> {
  return scope.transaction(async (tx) => {
    const row = await findOrThrow(tx, organizationId, id, { lock: true });
    if (row.status === 'verified') return toDomain(row);
    const now = nowOf(deps);
    let verified: DomainRow | undefined;
    try {
      verified = await organizationsRepository(tx).updateDomain(row.id, { status: 'verified', verificationMethod: 'manual', lastError: null, nextCheckAt: null, verifiedAt: now, failedAt: null });
    } catch (e) {
      if (uniqueViolation(e) === 'organization_domains_tenant_id_domain_verified_idx') throw new Conflict(CLAIMED, { field: 'domain' });
      throw e;
    }
    await recordAudit(tx, actor, { action: 'organization.domain.verify', targetType: 'organization', targetId: organizationId, before: auditView(row), after: auditView(verified!) });
    await publish(tx, { type: 'domain.verified', organizationId, data: domainData(toDomain(verified!)) });
    return toDomain(verified!);
  });
}

/**
 * For sign-in routing and admission (later): the organization that holds `domainOrEmail` (a domain, or the part of
 * an email address after its last `@`) as a verified domain. Pending and failed claims never count.
 */
export async function organizationForVerifiedDomain(scope: TenantScope, domainOrEmail: string): Promise<{ organizationId: string; domain: string } | undefined> {
  const domain = tryCanonicalDomain(domainOrEmail.slice(domainOrEmail.lastIndexOf('@') + 1));
  if (!domain) return undefined;
  const row = await organizationsRepository(scope).findVerifiedDomain(domain);
  return row ? { organizationId: row.organizationId, domain: row.domain } : undefined;
}
