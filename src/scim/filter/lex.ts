/**
 * Tokenizer for SCIM filters and PATCH paths: RFC 7644 §3.4.2.2 (Figure 1) and §3.5.2 (Figure 7).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 *
 * One left-to-right pass over char codes, no regular expressions and no backtracking, so time is linear in the
 * input. Tokens are: ( ) [ ] JSON strings, and "words": maximal runs of anything else that is not whitespace.
 * A word is an attribute path, an operator, a keyword or a number; the parser decides by position, which is what
 * lets an attribute be called `not` or `pr` without reserving those names.
 */
import { ScimFilterError, type ScimFilterErrorType } from './errors.ts';

export type TokenKind = 'word' | 'string' | '(' | ')' | '[' | ']' | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** The source text (for strings: including quotes and escapes), used in error messages. */
  readonly text: string;
  /** Decoded content for strings; equal to `text` otherwise. */
  readonly value: string;
  readonly pos: number;
  /** Whitespace precedes the token. Matters only for `attr[` and `].sub`, which Figure 1/7 spell without SP. */
  readonly spaced: boolean;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isPunct = (c: number) => c === 0x28 || c === 0x29 || c === 0x5b || c === 0x5d; // ( ) [ ]
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

const SIMPLE_ESCAPES = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);

/** Quote a piece of input for an error message: JSON-escaped (no control characters reach logs) and truncated. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 32 ? `${text.slice(0, 32)}…` : text);
}

export function describe(tok: Token): string {
  return tok.kind === 'end' ? 'end of input' : quote(tok.text);
}

export function tokenize(src: string, scimType: ScimFilterErrorType): Token[] {
  const fail = (pos: number, detail: string): never => {
    throw new ScimFilterError(scimType, pos, detail);
  };
  const tokens: Token[] = [];
  let i = 0;
  while (true) {
    const before = i;
    while (i < src.length && isSpace(src.charCodeAt(i))) i++;
    const spaced = i > before;
    if (i >= src.length) {
      tokens.push({ kind: 'end', text: '', value: '', pos: i, spaced });
      return tokens;
    }
    const start = i;
    const c = src.charCodeAt(i);
    if (isPunct(c)) {
      const text = src[i] as '(' | ')' | '[' | ']';
      tokens.push({ kind: text, text, value: text, pos: start, spaced });
      i++;
    } else if (c === 0x22) {
      const { value, end } = readString(src, start, fail);
      i = end;
      tokens.push({ kind: 'string', text: src.slice(start, end), value, pos: start, spaced });
    } else {
      while (i < src.length) {
        const d = src.charCodeAt(i);
        if (isSpace(d) || isPunct(d) || d === 0x22) break;
        i++;
      }
      const text = src.slice(start, i);
      tokens.push({ kind: 'word', text, value: text, pos: start, spaced });
    }
  }
}

/** A JSON string (RFC 8259 §7, formerly RFC 7159): escapes decoded, raw control characters rejected. */
function readString(src: string, start: number, fail: (pos: number, detail: string) => never) {
  let value = '';
  let chunk = start + 1;
  let i = chunk;
  while (i < src.length) {
    const c = src.charCodeAt(i);
    if (c === 0x22) return { value: value + src.slice(chunk, i), end: i + 1 };
    if (c < 0x20) fail(i, 'control characters in a string must be escaped');
    if (c !== 0x5c) {
      i++;
      continue;
    }
    value += src.slice(chunk, i);
    const e = src[i + 1];
    if (e === undefined) break;
    const simple = SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) {
      value += simple;
      i += 2;
    } else if (e === 'u') {
      for (let k = i + 2; k < i + 6; k++) if (k >= src.length || !isHex(src.charCodeAt(k))) fail(i, 'invalid \\u escape: expected 4 hex digits');
      value += String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 6), 16));
      i += 6;
    } else {
      fail(i, `invalid escape ${quote(`\\${e}`)} in string`);
    }
    chunk = i;
  }
  return fail(start, 'unterminated string');
}
