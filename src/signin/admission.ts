/**
 * Who gets in after an upstream sign-in (Bizzkit seed: trustAllUsers, defaultUserRoles).
 * 1. A previously linked (provider, subject) → that user.
 * 2. Otherwise a user with the same email, but only when the provider asserts the email is verified → link, that user.
 * 3. Otherwise, with trustAllUsers, a new user with the provider's defaultUserRoles → link.
 * 4. Otherwise nobody: "not allowed". And a deactivated user never gets in, whichever way they were found.
 */
import { sql } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { users } from '../db/schema/index.ts';
import type { UpstreamProvider } from '../upstream/service.ts';
import { createUser } from '../users/service.ts';
import { systemActor } from '../audit/service.ts';
import { identitiesRepository } from '../users/identities.ts';
import type { VerifiedIdentity } from './federation.ts';

export type Admission = { ok: true; userId: string; created: boolean } | { ok: false; reason: 'not-allowed' | 'inactive' };

export async function admit(scope: TenantScope, provider: UpstreamProvider, identity: VerifiedIdentity): Promise<Admission> {
  return scope.transaction(async (tx) => {
    const ids = identitiesRepository(tx);
    const linked = await ids.find(provider.type, provider.id, identity.subject);
    const active = async (userId: string) => {
      const [u] = await tx.select(users, sql`${users.id} = ${userId}`);
      return u?.active === true;
    };
    if (linked) {
      if (!(await active(linked.userId))) return { ok: false, reason: 'inactive' } as const;
      await ids.touch(provider.type, provider.id, identity.subject);
      return { ok: true, userId: linked.userId, created: false } as const;
    }
    const email = identity.email?.trim().toLowerCase();
    if (email && identity.emailVerified) {
      const [existing] = await tx.select(users, sql`lower(${users.email}) = ${email}`).limit(1);
      if (existing) {
        if (!existing.active) return { ok: false, reason: 'inactive' } as const;
        await ids.link({ userId: existing.id, providerType: provider.type, providerId: provider.id, subject: identity.subject, email });
        return { ok: true, userId: existing.id, created: false } as const;
      }
    }
    if (!provider.trustAllUsers) return { ok: false, reason: 'not-allowed' } as const;
    // A user named by the provider: the verified email when there is one, else a stable provider-scoped name.
    const userName = email && identity.emailVerified ? email : `${provider.type.toLowerCase()}-${provider.id}-${identity.subject}`;
    const user = await createUser(
      tx,
      systemActor(`upstream:${provider.type}:${provider.id}`),
      {
        userName,
        email: email && identity.emailVerified ? email : null,
        emailVerified: !!(email && identity.emailVerified),
        displayName: identity.name ?? null,
        givenName: identity.givenName ?? null,
        familyName: identity.familyName ?? null,
        roles: provider.defaultUserRoles,
      },
    );
    await ids.link({ userId: user.id, providerType: provider.type, providerId: provider.id, subject: identity.subject, email: email ?? null });
    return { ok: true, userId: user.id, created: true } as const;
  });
}
