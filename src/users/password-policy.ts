/**
 * What a person may choose as a password (NIST SP 800-63B §3.1.1.2, https://pages.nist.gov/800-63-4/sp800-63b.html):
 * at least 12 characters (and at most 1024, what argon2 is given), and not a commonly used or expected value. The
 * list is common-passwords.txt (10,283 leaked passwords, source in its header). "Expected" also covers a listed
 * password with digits or symbols appended ("password123456"), one character repeated, and the account's own email.
 * No composition rules: §3.1.1.2 says not to impose them.
 */
import { readFileSync } from 'node:fs';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.toLowerCase()),
  );
  return common;
}

/** Why `password` is refused, in words for the person choosing it; undefined when it is acceptable. */
export function passwordProblem(password: string, context: { email?: string | null | undefined } = {}): string | undefined {
  // Length in code points, as a person counts characters (an emoji is one).
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  const lower = password.toLowerCase();
  const list = commonPasswords();
  if (list.has(lower)) return 'This password is one of the most common passwords. Choose another.';
  // "dragon2024!!!!" is "dragon" with a suffix: as guessable as the word itself.
  const stem = lower.replace(/[\p{N}\p{P}\p{S}\s]+$/u, '');
  if (stem.length >= 3 && list.has(stem)) return 'This password is a common password with characters added. Choose another.';
  if (/^(.)\1*$/su.test(password)) return 'This password repeats one character. Choose another.';
  const email = context.email?.toLowerCase();
  const localPart = email?.slice(0, email.lastIndexOf('@')) ?? '';
  // The local part only when it is long enough to be a guess rather than a coincidence ("al" in "always").
  if (email && (lower.includes(email) || (localPart.length >= 4 && lower.includes(localPart)))) {
    return 'This password contains your email address. Choose another.';
  }
  return undefined;
}
