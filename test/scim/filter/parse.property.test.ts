/**
 * Property-based tests for the SCIM filter parser, RFC 7644 §3.4.2.2 (filters) and §3.5.2 (PATCH paths).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 *
 * Round-trip normalisation, which the generators respect so that plain deep equality applies: the parser stores
 * operators lowercased, turns -0 into 0, and keeps no node for redundant parentheses; everything else (attribute
 * spelling, schema URIs, string contents incl. lone surrogates) survives formatFilter → parseFilter unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPARE_OPS, type AttrPath, type CompValue, type Filter, type PatchPath } from '../../../src/scim/filter/ast.ts';
import { formatAttrPath, formatFilter, formatPatchPath, formatValue } from '../../../src/scim/filter/format.ts';
import { ScimFilterError, parseFilter, parsePatchPath } from '../../../src/scim/filter/parse.ts';

const RUNS = { numRuns: 500 };
const UNLIMITED = { maxLength: Infinity };
/** fc.record defaults to null-prototype objects, which toStrictEqual tells apart from the parser's plain ones. */
const PLAIN = { noNullPrototype: true } as const;

// --- generators -------------------------------------------------------------------------------------------------

/** ATTRNAME (RFC 7643 §2.1), plus names that collide with keywords to check the parser decides by position. */
const attrName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/) },
  { weight: 1, arbitrary: fc.constantFrom('not', 'NOT', 'and', 'Or', 'pr', 'eq', 'true', 'null', 'userName', 'emails') },
);
const subAttrName = fc.oneof({ weight: 5, arbitrary: attrName }, { weight: 1, arbitrary: fc.constantFrom('$ref', '$Ref') });
const schemaUri = fc.oneof(
  fc.constantFrom(
    'urn:ietf:params:scim:schemas:core:2.0:User',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    'urn:ietf:params:scim:schemas:core:2.0:Group',
  ),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9+.-]{0,5}$/), fc.stringMatching(/^[A-Za-z0-9._~\/@%+:-]{1,20}$/))
    .map(([scheme, rest]) => `${scheme}:${rest}`),
);

function attrPath(schema: string | null, attr: string, subAttr: string | null): AttrPath {
  return { attr, ...(schema !== null && { schema }), ...(subAttr !== null && { subAttr }) };
}
const topPath = fc.tuple(fc.option(schemaUri), attrName, fc.option(subAttrName)).map(([s, a, sub]) => attrPath(s, a, sub));
const multiValuedPath = fc.tuple(fc.option(schemaUri), attrName).map(([s, a]) => attrPath(s, a, null));
const relativePath = subAttrName.map((attr): AttrPath => ({ attr }));

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)); // incl. lone surrogates
const compValue: fc.Arbitrary<CompValue> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: anyCodeUnit }),
  fc.constantFrom('"', '\\', '\\"', ' or 1 eq 1', '] or (', '\u2028', '\u0000'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)),
  fc.boolean(),
  fc.constant(null),
);

function leaf(path: fc.Arbitrary<AttrPath>): fc.Arbitrary<Filter> {
  return fc.oneof(
    fc.record({ op: fc.constantFrom(...COMPARE_OPS), path, value: compValue }, PLAIN),
    fc.record({ op: fc.constant('pr' as const), path }, PLAIN),
  );
}

/** Filters of bounded depth; `relative`: the valFilter of Figure 1 (bare names, no nested "[...]"). */
function filters(relative: boolean): fc.Memo<Filter> {
  const memo: fc.Memo<Filter> = fc.memo((n) => {
    const base = leaf(relative ? relativePath : topPath);
    if (n <= 1) return base;
    const sub = memo(n - 1);
    const options: fc.Arbitrary<Filter>[] = [
      base,
      fc.record({ op: fc.constant('and' as const), left: sub, right: sub }, PLAIN),
      fc.record({ op: fc.constant('or' as const), left: sub, right: sub }, PLAIN),
      fc.record({ op: fc.constant('not' as const), filter: sub }, PLAIN),
    ];
    if (!relative) options.push(fc.record({ op: fc.constant('valuePath' as const), path: multiValuedPath, filter: valFilter(3) }, PLAIN));
    return fc.oneof(...options);
  });
  return memo;
}
const valFilter = filters(true);
const filter = filters(false)(6);

const patchPath: fc.Arbitrary<PatchPath> = fc.oneof(
  topPath.map((path): PatchPath => ({ path })),
  fc
    .tuple(multiValuedPath, valFilter(4), fc.option(subAttrName))
    .map(([path, valueFilter, sub]): PatchPath => (sub === null ? { path, valueFilter } : { path, valueFilter, subAttr: sub })),
);

/** Text that is mostly filter-shaped, to reach deep into the parser rather than fail on the first character. */
const tokenSoup = fc
  .array(
    fc.constantFrom(
      '(', ')', '[', ']', '"', '\\', ' ', '  ', '\t', '.', ':', 'and', 'or', 'not', 'NOT', 'pr', 'eq', 'Co', 'gt', 'a', 'b.c', '$ref',
      'urn:x:2.0:y', '1', '-0', '1e5', 'true', 'null', '"s"', '"\\u00e9"', '\\u12', '\u0000', '\u00a0', 'emails[', '].value',
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

// --- helpers ----------------------------------------------------------------------------------------------------

/** Run `parse`; any exception other than ScimFilterError fails the property. */
function attempt<T>(parse: () => T): T | ScimFilterError {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ScimFilterError) return e;
    throw e;
  }
}

/** Whatever the parser accepts must format to text that parses back to the same AST. */
function checkFilterText(text: string): void {
  const result = attempt(() => parseFilter(text, UNLIMITED));
  if (result instanceof ScimFilterError) {
    expect(result.scimType).toBe('invalidFilter');
    expect(result.position).toBeGreaterThanOrEqual(0);
    expect(result.position).toBeLessThanOrEqual(text.length);
  } else {
    expect(parseFilter(formatFilter(result), UNLIMITED)).toStrictEqual(result);
  }
}

function checkPathText(text: string): void {
  const result = attempt(() => parsePatchPath(text, UNLIMITED));
  if (result instanceof ScimFilterError) expect(result.scimType).toBe('invalidPath');
  else expect(parsePatchPath(formatPatchPath(result), UNLIMITED)).toStrictEqual(result);
}

/**
 * formatFilter with noise the parser must ignore: random keyword/operator/literal case, runs of SP/HTAB/CR/LF
 * wherever Figure 1 has SP (or nothing, next to parentheses), and redundant parentheses around sub-expressions.
 */
function noisyFormat(f: Filter, g: fc.GeneratorValue): string {
  const ws = () => g(fc.constantFrom, ' ', '  ', '\t', '\r\n', ' \t ');
  const opt = () => g(fc.constantFrom, '', ' ', '\n');
  const kw = (k: string) => g(fc.constantFrom, k, k.toUpperCase(), `${k.charAt(0).toUpperCase()}${k.slice(1)}`);
  const paren = (text: string) => `(${opt()}${text}${opt()})`;
  const sub = (x: Filter, needed: boolean) => (needed || g(fc.boolean) ? paren(noisyFormat(x, g)) : noisyFormat(x, g));
  switch (f.op) {
    case 'pr':
      return `${formatAttrPath(f.path)}${ws()}${kw('pr')}`;
    case 'not':
      return `${kw('not')}${opt()}${paren(noisyFormat(f.filter, g))}`;
    case 'valuePath':
      return `${formatAttrPath(f.path)}[${opt()}${noisyFormat(f.filter, g)}${opt()}]`;
    case 'and':
      return `${sub(f.left, f.left.op === 'or')}${ws()}${kw('and')}${ws()}${sub(f.right, f.right.op === 'or' || f.right.op === 'and')}`;
    case 'or':
      return `${sub(f.left, false)}${ws()}${kw('or')}${ws()}${sub(f.right, f.right.op === 'or')}`;
    default: {
      const value = typeof f.value === 'boolean' || f.value === null ? kw(String(f.value)) : formatValue(f.value);
      return `${formatAttrPath(f.path)}${ws()}${kw(f.op)}${ws()}${value}`;
    }
  }
}

// --- properties -------------------------------------------------------------------------------------------------

describe('RFC 7644 §3.4.2.2: property-based', () => {
  it('RFC 7644 §3.4.2.2: parseFilter(formatFilter(ast)) deep-equals ast', () => {
    fc.assert(
      fc.property(filter, (ast) => {
        expect(parseFilter(formatFilter(ast), UNLIMITED)).toStrictEqual(ast);
      }),
      RUNS,
    );
  });

  it('RFC 7644 §3.5.2: parsePatchPath(formatPatchPath(path)) deep-equals path', () => {
    fc.assert(
      fc.property(patchPath, (path) => {
        expect(parsePatchPath(formatPatchPath(path), UNLIMITED)).toStrictEqual(path);
      }),
      RUNS,
    );
  });

  it('RFC 7644 §3.4.2.2: keyword case, extra whitespace and redundant parentheses do not change the AST', () => {
    fc.assert(
      fc.property(filter, fc.gen(), (ast, g) => {
        expect(parseFilter(noisyFormat(ast, g), UNLIMITED)).toStrictEqual(ast);
      }),
      RUNS,
    );
  });

  it('RFC 7644 §3.4.2.2: arbitrary strings yield a Filter or a ScimFilterError, nothing else', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: anyCodeUnit })), checkFilterText), RUNS);
  });

  it('RFC 7644 §3.4.2.2: filter-shaped token soup yields a Filter or a ScimFilterError, nothing else', () => {
    fc.assert(fc.property(tokenSoup, checkFilterText), RUNS);
  });

  it('RFC 7644 §3.4.2.2: single-character mutations of valid filters yield a Filter or a ScimFilterError', () => {
    const mutated = fc
      .tuple(filter.map((ast) => formatFilter(ast)), fc.nat(), fc.constantFrom('', '(', ')', '[', ']', '"', '\\', ' ', 'x', '.', ':'))
      .map(([text, at, insert]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, i) + insert + text.slice(i + 1); // replace one character (or delete it)
      });
    fc.assert(fc.property(mutated, checkFilterText), RUNS);
  });

  it('RFC 7644 §3.5.2: arbitrary strings and token soup yield a PatchPath or a ScimFilterError', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), tokenSoup), checkPathText), RUNS);
  });

  it('hostile repetition (up to 20k) never overflows the stack, even with the length cap lifted', () => {
    const hostile = fc
      .tuple(
        fc.constantFrom('(', 'not (', 'a[', '((a pr) and ', 'a pr and ', 'a pr or ', '"', '\\', '[', ')', 'not ', 'a eq "\\"'),
        fc.integer({ min: 0, max: 20_000 }),
        fc.constantFrom('', 'a pr', ')', ']'),
      )
      .map(([unit, n, tail]) => unit.repeat(n) + tail);
    fc.assert(
      fc.property(hostile, (text) => {
        for (const options of [{}, UNLIMITED]) {
          attempt(() => parseFilter(text, options));
          attempt(() => parsePatchPath(text, options));
        }
      }),
      { numRuns: 200 },
    );
  });
});
