/**
 * Recursive-descent parser for SCIM 2.0 filters (RFC 7644 §3.4.2.2, Figure 1) and PATCH paths (§3.5.2, Figure 7).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 *
 *   or-expr   = and-expr *("or" and-expr)            ; precedence: not > and > or (§3.4.2.2)
 *   and-expr  = primary *("and" primary)             ; both left-associative, parsed with loops
 *   primary   = "(" or-expr ")" / "not" "(" or-expr ")" / attrPath "[" or-expr "]" / attrExp
 *
 * Leniency, deliberately narrow: whitespace (SP, HTAB, CR, LF) is accepted around any token and may be repeated,
 * where the ABNF has exactly one SP (Okta sends trailing spaces). Keywords, operators and true/false/null are
 * case-insensitive as the RFC says. Not lenient: `attr[`, and `].sub` in paths, must be written without spaces,
 * exactly as in the ABNF.
 *
 * Hostile input: length is capped before tokenizing, and every nesting level ("(", "not (", "[") counts against
 * maxDepth, which bounds the recursion; and/or chains are loops. So no input can overflow the stack or take more
 * than linear time.
 */
import { COMPARE_OPS, type AttrPath, type CompValue, type CompareOp, type Filter, type PatchPath } from './ast.ts';
import { splitAttrPath, isSubAttrName } from './attr-path.ts';
import { ScimFilterError, type ScimFilterErrorType } from './errors.ts';
import { describe, quote, tokenize, type Token } from './lex.ts';

export { ScimFilterError, type ScimFilterErrorType } from './errors.ts';

export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 50;

export interface ParseOptions {
  /**
   * Longest accepted input, in UTF-16 code units. Default 4096. It also bounds the AST depth of and/or chains
   * (`a pr and b pr and ...` nests leftwards, about maxLength / 9 levels), which matters to recursive consumers.
   */
  readonly maxLength?: number;
  /** Deepest accepted nesting of "(", "not (" and "[". Default 50. */
  readonly maxDepth?: number;
  /**
   * Read a comparison value that is not quoted and is not true/false/null or a number as a string
   * (`userName sw O`). Off by default (Figure 1 requires quotes); dialect.ts turns it on for clients' filters.
   */
  readonly bareWordValues?: boolean;
}

/** Parse a `filter` query parameter. Throws ScimFilterError (scimType `invalidFilter`) and nothing else. */
export function parseFilter(input: string, options: ParseOptions = {}): Filter {
  const p = new Parser(input, 'invalidFilter', options);
  const filter = p.orExpr();
  p.expectEnd('"and", "or" or end of input', p.peek().kind === ']' ? 'no "[" to close' : undefined);
  return filter;
}

/**
 * Parse a PATCH operation's `path` (`attrPath` or `valuePath [subAttr]`). Surrounding whitespace is ignored.
 * Throws ScimFilterError (scimType `invalidPath`, also for a malformed filter inside "[...]") and nothing else.
 */
export function parsePatchPath(input: string, options: ParseOptions = {}): PatchPath {
  const p = new Parser(input, 'invalidPath', options);
  const first = p.next();
  if (first.kind !== 'word') p.fail(first, `expected an attribute path, found ${describe(first)}`);
  const path = p.attrPath(first);
  if (p.peek().kind !== '[') {
    p.expectEnd('"[" or end of path');
    return { path };
  }
  const valueFilter = p.valueFilter(path);
  const after = p.peek();
  if (after.kind === 'word' && !after.spaced && after.text.startsWith('.')) {
    const subAttr = after.text.slice(1);
    if (!isSubAttrName(subAttr)) p.fail(after, `invalid sub-attribute name ${quote(subAttr)}`);
    p.next();
    p.expectEnd('end of path');
    return { path, valueFilter, subAttr };
  }
  p.expectEnd('".subAttribute" or end of path', after.spaced && after.text.startsWith('.') ? 'no space is allowed after "]"' : undefined);
  return { path, valueFilter };
}

/** JSON number (RFC 8259 §6). The only regex here; linear, as no quantifiers nest or overlap. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

const isCompareOp = (s: string): s is CompareOp => (COMPARE_OPS as readonly string[]).includes(s);
const isKeyword = (tok: Token, word: string) => tok.kind === 'word' && tok.text.toLowerCase() === word;

class Parser {
  readonly #tokens: Token[];
  readonly #scimType: ScimFilterErrorType;
  readonly #maxDepth: number;
  readonly #bareWordValues: boolean;
  #i = 0;
  #depth = 0;
  /** Inside `attr[...]`: attribute paths are relative and another "[" is an error (Figure 1's valFilter). */
  #inValuePath = false;

  constructor(input: string, scimType: ScimFilterErrorType, options: ParseOptions) {
    this.#scimType = scimType;
    this.#maxDepth = options.maxDepth ?? MAX_FILTER_DEPTH;
    this.#bareWordValues = options.bareWordValues ?? false;
    const maxLength = options.maxLength ?? MAX_FILTER_LENGTH;
    // Callers pass query parameters; a repeated parameter can arrive as an array, so check at runtime.
    if (typeof input !== 'string') throw new ScimFilterError(scimType, 0, 'expected a string');
    if (input.length > maxLength) throw new ScimFilterError(scimType, maxLength, `longer than ${maxLength} characters`);
    this.#tokens = tokenize(input, scimType);
    if (this.peek().kind === 'end') this.fail(this.peek(), 'empty');
  }

  fail(tok: Token, detail: string): never {
    throw new ScimFilterError(this.#scimType, tok.pos, detail);
  }

  peek(): Token {
    return this.#tokens[this.#i] as Token; // the 'end' token is never consumed, so this stays in bounds
  }

  next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'end') this.#i++;
    return tok;
  }

  /** `expected` names what else could have come here, for the message. */
  expectEnd(expected: string, hint?: string): void {
    const tok = this.peek();
    if (tok.kind !== 'end') this.fail(tok, `expected ${expected}, found ${describe(tok)}${hint ? ` (${hint})` : ''}`);
  }

  attrPath(tok: Token): AttrPath {
    const path = splitAttrPath(tok.text, this.#inValuePath);
    return typeof path === 'string' ? this.fail(tok, `${path}: ${quote(tok.text)}`) : path;
  }

  orExpr(): Filter {
    let left = this.andExpr();
    while (isKeyword(this.peek(), 'or')) {
      this.next();
      left = { op: 'or', left, right: this.andExpr() };
    }
    return left;
  }

  andExpr(): Filter {
    let left = this.primary();
    while (isKeyword(this.peek(), 'and')) {
      this.next();
      left = { op: 'and', left, right: this.primary() };
    }
    return left;
  }

  primary(): Filter {
    const tok = this.next();
    if (tok.kind === '(') return this.group(tok);
    if (tok.kind !== 'word') this.fail(tok, `expected an attribute path, "(" or "not (", found ${describe(tok)}`);
    // "not" is only the operator when "(" follows: Figure 1 requires the parentheses, and this way an attribute
    // named "not" still parses.
    if (isKeyword(tok, 'not') && this.peek().kind === '(') return { op: 'not', filter: this.group(this.next()) };
    const path = this.attrPath(tok);
    if (this.peek().kind === '[') return { op: 'valuePath', path, filter: this.valueFilter(path) };
    const opTok = this.next();
    const op = opTok.kind === 'word' ? opTok.text.toLowerCase() : '';
    if (op === 'pr') return { op: 'pr', path };
    if (!isCompareOp(op)) {
      if (isKeyword(tok, 'not')) this.fail(opTok, '"not" must be followed by a parenthesised filter: not (...)');
      this.fail(opTok, `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after ${quote(tok.text)}, found ${describe(opTok)}`);
    }
    return { op, path, value: this.value(opTok) };
  }

  /** After "(" (or "not" "("): a parenthesised filter. */
  group(open: Token): Filter {
    this.#enter(open);
    const filter = this.orExpr();
    const close = this.next();
    if (close.kind !== ')') this.fail(close, `expected "and", "or" or ")" to close the "(" at position ${open.pos}, found ${describe(close)}`);
    this.#depth--;
    return filter;
  }

  /** `attrPath "[" valFilter "]"`; the current token is the "[". */
  valueFilter(path: AttrPath): Filter {
    const open = this.next();
    if (open.spaced) this.fail(open, '"[" must directly follow the attribute name');
    if (this.#inValuePath) this.fail(open, 'a "[...]" filter cannot be nested inside another');
    if (path.subAttr !== undefined) this.fail(open, `"[...]" applies to a multi-valued attribute, not to the sub-attribute ${quote(path.subAttr)}`);
    this.#enter(open);
    this.#inValuePath = true;
    const filter = this.orExpr();
    const close = this.next();
    if (close.kind !== ']') this.fail(close, `expected "and", "or" or "]" to close the "[" at position ${open.pos}, found ${describe(close)}`);
    this.#inValuePath = false;
    this.#depth--;
    const after = this.peek();
    if (this.#scimType === 'invalidFilter' && after.kind === 'word' && after.text.startsWith('.') && !after.spaced)
      this.fail(after, '"[...]" followed by a sub-attribute is only valid in a PATCH path, not in a filter');
    return filter;
  }

  /** `compValue = false / null / true / number / string`, JSON syntax. */
  value(opTok: Token): CompValue {
    const tok = this.next();
    if (tok.kind === 'string') return tok.value;
    if (tok.kind !== 'word') this.fail(tok, `expected a value after ${quote(opTok.text)}, found ${describe(tok)}`);
    const word = tok.text.toLowerCase();
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === 'null') return null;
    if (!JSON_NUMBER.test(tok.text)) {
      if (this.#bareWordValues && !isKeyword(tok, 'and') && !isKeyword(tok, 'or')) return tok.text;
      this.fail(tok, `expected a value (a "double-quoted" string, a number, true, false or null) after ${quote(opTok.text)}, found ${describe(tok)}`);
    }
    const n = Number(tok.text);
    if (!Number.isFinite(n)) this.fail(tok, 'number out of range');
    return n === 0 ? 0 : n; // -0 → 0: no SCIM attribute distinguishes them, and it keeps ASTs comparable
  }

  #enter(tok: Token): void {
    if (++this.#depth > this.#maxDepth) this.fail(tok, `nested deeper than ${this.#maxDepth} levels`);
  }
}
