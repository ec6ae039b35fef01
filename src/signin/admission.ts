/**
 * Who gets in after an upstream sign-in (Bizzkit seed: trustAllUsers, defaultUserRoles).
 * 1. A previously linked (provider, subject) → that user.
 * 2. Otherwise, when the provider asserts the email is verified, the one user whose sign-in email has the same key
 *    (users/identifiers.ts) → link, that user. The address must itself be canonical: a non-canonical one (the
 *    KELVIN SIGN in `\u212Aate@x.test`, fullwidth letters, invisible characters) is refused and never folded into
 *    an ASCII address. Emails are not unique (RFC 7643 §8.7.1): when several users have it, nobody is linked.
 * 3. Otherwise, with trustAllUsers, a new user with the provider's defaultUserRoles → link. A new user that would
 *    collide with an existing userName or email is refused, not half-created.
 * 4. Otherwise nobody: "not allowed". And a deactivated user never gets in, whichever way they were found.
 * Linking by email and every refusal of it are audited (actor: the provider, with the browser's address).
 */
import type { TenantScope } from '../platform/db.ts';
import { Conflict, Invalid } from '../platform/errors/domain.ts';
import { recordAudit, systemActor } from '../audit/service.ts';
import type { UpstreamProvider } from '../upstream/service.ts';
import { createUser } from '../users/service.ts';
import { identitiesRepository } from '../users/identities.ts';
import { checkIdentifier } from '../users/identifiers.ts';
import { usersRepository } from '../users/repository.ts';
import type { VerifiedIdentity } from './federation.ts';
import { organizationForVerifiedDomain } from '../organizations/domains.ts';

export type AdmissionRefusal = 'not-allowed' | 'inactive' | 'ambiguous-email' | 'invalid-email' | 'invalid-identifier' | 'conflict';
export type Admission = { ok: true; userId: string; created: boolean } | { ok: false; reason: AdmissionRefusal };

/**
 * Where an identity comes from and what it may do: an upstream provider (trustAllUsers, defaultUserRoles), or an
 * organization's SSO connection, whose JIT policy decides per email (`mayLinkEmail`, `mayCreate`).
 */
export interface AdmissionSource {
  /** The identity link's key: `AzureAd`/`Google`/`Auth0` and the provider id, or `connection` and its id. */
  providerType: string;
  providerId: string;
  /** The audit actor: `upstream:AzureAd:hesehus`, `connection:<id>`. */
  actorId: string;
  /** Whether a verified email may link to the existing user who has it (connections: only in verified domains). */
  mayLinkEmail(tx: TenantScope, email: string): Promise<boolean>;
  /** Whether a new user may be created for this identity (`verifiedEmail` when the IdP asserts one). */
  mayCreate(tx: TenantScope, verifiedEmail: string | undefined): Promise<boolean>;
  /** Tenant roles of a user created here. */
  defaultUserRoles: string[];
}

/**
 * Whether an email is in a verified domain of `organizationId`: the only emails an organization's IdP may link to an
 * existing account by (otherwise one organization's IdP administrator could assert anyone's address and take over
 * that account).
 */
export function inVerifiedDomainOf(organizationId: string): (tx: TenantScope, email: string) => Promise<boolean> {
  return async (tx, email) => (await organizationForVerifiedDomain(tx, email))?.organizationId === organizationId;
}

/** A tenant-wide provider links any email it verifies (Bizzkit seed); one bound to an organization only that organization's. */
export function upstreamSource(provider: UpstreamProvider): AdmissionSource {
  return {
    providerType: provider.type,
    providerId: provider.id,
    actorId: `upstream:${provider.type}:${provider.id}`,
    mayLinkEmail: provider.organizationId ? inVerifiedDomainOf(provider.organizationId) : async () => true,
    mayCreate: async () => provider.trustAllUsers,
    defaultUserRoles: provider.defaultUserRoles,
  };
}

export async function admit(scope: TenantScope, source: AdmissionSource, identity: VerifiedIdentity, ctx: { ip?: string | undefined } = {}): Promise<Admission> {
  const actor = systemActor(source.actorId, ctx.ip);
  const provider = { type: source.providerType, id: source.providerId };
  return scope.transaction(async (tx) => {
    const ids = identitiesRepository(tx);
    const users = usersRepository(tx);
    const linked = await ids.find(provider.type, provider.id, identity.subject);
    if (linked) {
      if ((await users.findUser(linked.userId))?.active !== true) return { ok: false, reason: 'inactive' } as const;
      await ids.touch(provider.type, provider.id, identity.subject);
      return { ok: true, userId: linked.userId, created: false } as const;
    }
    const email = identity.email?.trim() || undefined;
    const link = { providerType: provider.type, providerId: provider.id, subject: identity.subject, email: email ?? null };
    const refuse = async (reason: AdmissionRefusal, detail: Record<string, unknown> = {}) => {
      await recordAudit(tx, actor, {
        action: 'user.identity.link.refused',
        targetType: 'upstream',
        targetId: `${provider.type}/${provider.id}`,
        after: { subject: identity.subject, email: email ?? null, outcome: 'refused', reason, ...detail },
      });
      return { ok: false, reason } as const;
    };
    const verifiedEmail = email && identity.emailVerified ? email : undefined;
    if (verifiedEmail) {
      const checked = checkIdentifier(verifiedEmail, 'email');
      if (!checked.ok) return refuse('invalid-email', { problem: checked.reason });
      const matches = await users.listByEmailKey(checked.key, 2);
      if (matches.length > 1) return refuse('ambiguous-email');
      const [existing] = matches;
      if (existing && !(await source.mayLinkEmail(tx, verifiedEmail))) return refuse('not-allowed', { problem: 'email not in a verified domain of the organization' });
      if (existing) {
        if (!existing.active) return { ok: false, reason: 'inactive' } as const;
        await ids.link({ userId: existing.id, ...link });
        await recordAudit(tx, actor, { action: 'user.identity.link', targetType: 'user', targetId: existing.id, after: { ...link, matchedBy: 'email', outcome: 'linked' } });
        return { ok: true, userId: existing.id, created: false } as const;
      }
    }
    if (!(await source.mayCreate(tx, verifiedEmail))) return { ok: false, reason: 'not-allowed' } as const;
    // A user named by the provider: the verified email when there is one, else a stable provider-scoped name.
    const userName = verifiedEmail ?? `${provider.type.toLowerCase()}-${provider.id}-${identity.subject}`.slice(0, 256);
    let userId: string;
    try {
      const user = await createUser(tx, actor, {
        userName,
        email: verifiedEmail ?? null,
        emailVerified: verifiedEmail !== undefined,
        displayName: identity.name ?? null,
        givenName: identity.givenName ?? null,
        familyName: identity.familyName ?? null,
        roles: source.defaultUserRoles,
      });
      userId = user.id;
    } catch (e) {
      // createUser ran in a savepoint, so this transaction can still record the refusal.
      if (e instanceof Conflict) return refuse('conflict', { field: e.details?.field ?? null });
      const field = e instanceof Invalid ? e.details?.field : undefined;
      if (field === 'userName' || field === 'email') return refuse('invalid-identifier', { problem: e instanceof Error ? e.message : null });
      throw e;
    }
    await ids.link({ userId, ...link });
    await recordAudit(tx, actor, { action: 'user.identity.link', targetType: 'user', targetId: userId, after: { ...link, matchedBy: 'created', outcome: 'linked' } });
    return { ok: true, userId, created: true } as const;
  });
}
