/**
 * A user's email addresses as SCIM sends them (`attributes.emails`, RFC 7643 §4.1.2) and the one sign-in uses
 * (`users.email`), kept consistent in both directions, plus the indexed copy in `user_emails` that SCIM filters run
 * on. Every write of either goes through users/service.ts, which calls these in the same transaction.
 */
import { eq } from 'drizzle-orm';
import type { TenantScope } from '../platform/db.ts';
import { userEmails } from '../db/schema/index.ts';

export interface EmailValue {
  value?: string;
  type?: string;
  primary?: boolean;
  display?: string;
}

/** The address sign-in uses: the primary email, else the first work one, else the first. */
export function signInEmail(emails: unknown): string | null {
  if (!Array.isArray(emails) || !emails.length) return null;
  const list = emails as EmailValue[];
  const pick = list.find((e) => e.primary === true) ?? list.find((e) => e.type?.toLowerCase() === 'work') ?? list[0];
  return pick?.value ?? null;
}

/**
 * The attributes after the sign-in email changed elsewhere (`/api/users`): the entry it was taken from gets the new
 * value; with no entry yet, the new address becomes the primary one. Undefined when there is nothing to change.
 */
export function withSignInEmail(attributes: Record<string, unknown>, email: string | null): Record<string, unknown> | undefined {
  const list = Array.isArray(attributes.emails) ? (attributes.emails as EmailValue[]) : undefined;
  if (!list) return undefined;
  const current = signInEmail(list);
  if (current === email) return undefined;
  const i = list.findIndex((e) => e.value === current);
  let next: EmailValue[];
  if (email === null) next = list.filter((_, j) => j !== i);
  else if (i >= 0) next = list.map((e, j) => (j === i ? { ...e, value: email } : e));
  else next = [{ value: email, primary: true }, ...list.map((e) => ({ ...e, primary: false }))];
  return { ...attributes, emails: next };
}

/**
 * The emails a user has as SCIM shows them: the stored list, with the sign-in address winning for the entry it
 * mirrors; a user created without SCIM emails (e.g. through /api/users) has its sign-in address as the primary one.
 */
export function effectiveEmails(attributes: Record<string, unknown>, email: string | null): EmailValue[] {
  const list = Array.isArray(attributes.emails) ? (attributes.emails as EmailValue[]) : [];
  if (email === null) return list;
  if (!list.length) return [{ value: email, primary: true }];
  const mirrored = signInEmail(list);
  if (mirrored === email) return list;
  const i = list.findIndex((e) => e.value === mirrored);
  return list.map((e, j) => (j === i ? { ...e, value: email } : e));
}

export function emailsChanged(before: { attributes: Record<string, unknown>; email: string | null }, after: { attributes: Record<string, unknown>; email: string | null }): boolean {
  return JSON.stringify(effectiveEmails(before.attributes, before.email)) !== JSON.stringify(effectiveEmails(after.attributes, after.email));
}

/** Rewrites the indexed copy (`user_emails`) of a user's emails. */
export async function syncEmailIndex(tx: TenantScope, userId: string, emails: unknown, opts: { fresh?: boolean } = {}): Promise<void> {
  if (!opts.fresh) await tx.delete(userEmails, eq(userEmails.userId, userId));
  const list = Array.isArray(emails) ? (emails as EmailValue[]) : [];
  const rows = list
    .map((e, position) => ({
      userId,
      position,
      value: typeof e.value === 'string' ? e.value : '',
      type: typeof e.type === 'string' ? e.type : null,
      primary: e.primary === true,
      display: typeof e.display === 'string' ? e.display : null,
    }))
    .filter((r) => r.value !== '');
  if (rows.length) await tx.insert(userEmails, rows);
}
