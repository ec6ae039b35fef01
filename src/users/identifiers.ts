/**
 * Login identifiers (`userName`, the sign-in `email`): one canonical form and one comparison key, computed here and
 * nowhere else. The reference is RFC 8265 (PRECIS), https://www.rfc-editor.org/rfc/rfc8265#section-3.3
 *
 * - Canonical form (UsernameCasePreserved, §3.3, with refusal instead of mapping): what we store is what the client
 *   sent, and it must already be canonical. A character PRECIS would map or disallow is refused (400): controls and
 *   format characters (NUL, ZWSP U+200B, soft hyphen U+00AD, bidi controls), other default-ignorable, unassigned or
 *   private-use code points, symbols and punctuation outside ASCII, characters with a compatibility or singleton
 *   decomposition (fullwidth `ａ` U+FF41, KELVIN SIGN U+212A, ANGSTROM SIGN U+212B, `ª`), spaces other than single
 *   U+0020 between other characters, leading or trailing whitespace, and a string that is not in Unicode
 *   Normalization Form C (NFD `e` + U+0301).
 * - Comparison key (UsernameCaseMapped, §3.4): `toLowerCase()` (the Unicode default case mapping, §3.4.3) then NFC.
 *   It is computed in TypeScript and stored (`users.user_name_key`, `users.email_key`); PostgreSQL never folds case
 *   for identifiers, so the collation of the database cannot disagree with it. Keys that are equal are the same
 *   identifier: a second user with it is a 409.
 *
 * A consequence tested character by character: a canonical string whose key is ASCII is itself ASCII, so no
 * non-ASCII address ever folds into an ASCII one (the Kelvin-sign `\u212Aate@x.test` is refused, never `kate@x.test`).
 * Not covered: look-alikes across scripts (Cyrillic `а` for Latin `a`, UTS #39 confusables) are distinct identifiers.
 */
import { Invalid } from '../platform/errors/domain.ts';

export type IdentifierField = 'userName' | 'email';

export type IdentifierCheck = { ok: true; key: string } | { ok: false; reason: string };

/** Letters (except titlecase), combining marks and decimal digits: RFC 8264 §9.1 LetterDigits, less `Lt`. */
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lm}\p{Lo}\p{Mn}\p{Mc}\p{Nd}]$/u;
const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const WHITESPACE = /^\s|\s$/u;

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

/** Why the single code point `c` cannot be part of an identifier, or undefined when it can. */
function characterProblem(c: string, cp: number, field: IdentifierField, previous: string): string | undefined {
  if (cp === 0x20) return field === 'email' ? 'contains a space' : previous === ' ' ? 'contains two spaces in a row' : undefined;
  if (cp > 0x20 && cp < 0x7f) return undefined;
  if (cp < 0x20 || cp === 0x7f) return `contains the control character ${hex(cp)}`;
  if (DEFAULT_IGNORABLE.test(c)) return `contains the invisible character ${hex(cp)}`;
  if (!LETTER_DIGIT.test(c)) return `contains ${hex(cp)}, which is not a letter, digit or combining mark`;
  const compat = c.normalize('NFKC');
  if (compat !== c) return `contains ${hex(cp)}, a variant of "${compat}"; use that character instead`;
  return undefined;
}

/**
 * Checks `value` and returns its comparison key. `field` chooses the rule for spaces: a userName may hold single
 * spaces between other characters (RFC 8265 §3.3.1: userparts separated by spaces), an email none.
 */
export function checkIdentifier(value: string, field: IdentifierField): IdentifierCheck {
  if (value === '') return { ok: false, reason: 'is empty' };
  if (WHITESPACE.test(value)) return { ok: false, reason: 'starts or ends with whitespace' };
  let previous = '';
  for (const c of value) {
    const problem = characterProblem(c, c.codePointAt(0)!, field, previous);
    if (problem) return { ok: false, reason: problem };
    previous = c;
  }
  if (value.normalize('NFC') !== value) return { ok: false, reason: 'is not in Unicode Normalization Form C (send the composed characters)' };
  return { ok: true, key: identifierKey(value) };
}

/** The comparison key of a canonical identifier (RFC 8265 §3.4.3, then §3.4.4). Only for values checkIdentifier accepts. */
function identifierKey(value: string): string {
  return value.toLowerCase().normalize('NFC');
}

/** The key of a stored identifier; throws Invalid (400 naming the field) when it is not canonical. */
export function requireIdentifier(value: string, field: IdentifierField): string {
  const checked = checkIdentifier(value, field);
  if (!checked.ok) throw new Invalid(`The ${field} ${checked.reason}.`, { field });
  return checked.key;
}

/**
 * The key that typed sign-in input names: surrounding whitespace is dropped (a form field), nothing else is mapped.
 * Undefined when the input cannot be any user's identifier.
 */
export function loginKey(input: string): string | undefined {
  const checked = checkIdentifier(input.trim(), 'userName');
  return checked.ok ? checked.key : undefined;
}
