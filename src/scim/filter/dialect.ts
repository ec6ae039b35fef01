/**
 * Filters as real clients send them. Parsing is strict RFC 7644 §3.4.2.2 (parse.ts); this module adds the one
 * deviation a major client needs, by rewriting it into the grammar before parsing:
 *
 * Entra ID deviation: `emails[type eq "work"].value eq "a@b.c"` (a value path followed by a sub-attribute and a
 * comparison, which Figure 1 does not allow in filters) is sent for matching on emails, per
 * https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups ("a GET to /Users
 * with a filter must allow for both userName eq … and emails[type eq "work"].value eq … queries"). It means
 * `emails[(type eq "work") and value eq "a@b.c"]`, which is what it is rewritten to.
 *
 * Entra ID validator deviation: a comparison value that is not quoted and is not true, false, null or a number is
 * read as a string (`name.familyName eq Employee`, `userName sw O`, `meta.created gt 2015-10-10T14:38:21.86-07:00`),
 * as Microsoft's reference server (SCIMReferenceCode) does. Only when the strict parse fails, so a valid filter
 * never changes meaning.
 */
import type { Filter } from './ast.ts';
import { ScimFilterError } from './errors.ts';
import { tokenize, type Token } from './lex.ts';
import { parseFilter } from './parse.ts';

const LENIENT = { bareWordValues: true } as const;

export function parseClientFilter(input: string): Filter {
  try {
    return parseFilter(input);
  } catch (e) {
    if (!(e instanceof ScimFilterError) || typeof input !== 'string') throw e;
    let rewritten: string | undefined;
    try {
      rewritten = rewriteValuePathSubAttr(input);
    } catch {
      throw e;
    }
    try {
      return parseFilter(rewritten ?? input, LENIENT);
    } catch {
      throw e; // the client's own text is what the error should point into
    }
  }
}

const end = (t: Token) => t.pos + t.text.length;

/** `attr[F].sub op value` → `attr[(F) and sub op value]`, for every occurrence; undefined when there is none. */
export function rewriteValuePathSubAttr(src: string): string | undefined {
  let changed = false;
  for (let guard = 0; guard < 20; guard++) {
    const tokens = tokenize(src, 'invalidFilter');
    const i = tokens.findIndex((t, k) => t.kind === ']' && tokens[k + 1]?.kind === 'word' && !tokens[k + 1]!.spaced && tokens[k + 1]!.text.startsWith('.'));
    if (i < 0) return changed ? src : undefined;
    let open = i - 1;
    while (open >= 0 && tokens[open]!.kind !== '[') open--;
    if (open < 0) return undefined;
    const sub = tokens[i + 1]!.text.slice(1);
    const op = tokens[i + 2];
    if (!op || op.kind !== 'word') return undefined;
    const isPr = op.text.toLowerCase() === 'pr';
    const value = isPr ? undefined : tokens[i + 3];
    if (!isPr && (!value || (value.kind !== 'string' && value.kind !== 'word'))) return undefined;
    const last = value ?? op;
    src = `${src.slice(0, tokens[open]!.pos + 1)}(${src.slice(tokens[open]!.pos + 1, tokens[i]!.pos)}) and ${sub} ${op.text}${value ? ` ${value.text}` : ''}]${src.slice(end(last))}`;
    changed = true;
  }
  return undefined;
}
