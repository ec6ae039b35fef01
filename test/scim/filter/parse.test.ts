/**
 * SCIM filter and PATCH path parsing: RFC 7644 §3.4.2.2 (filters, Figure 1) and §3.5.2 (PATCH path, Figure 7).
 * https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */
import { describe, expect, it } from 'vitest';
import type { AttrPath, Filter } from '../../../src/scim/filter/ast.ts';
import { formatFilter, formatPatchPath } from '../../../src/scim/filter/format.ts';
import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, ScimFilterError, parseFilter, parsePatchPath } from '../../../src/scim/filter/parse.ts';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const p = (attr: string, subAttr?: string, schema?: string): AttrPath => ({
  attr,
  ...(subAttr !== undefined && { subAttr }),
  ...(schema !== undefined && { schema }),
});

/** Parse expecting a ScimFilterError; returns it for further assertions. */
function filterError(input: string, options?: Parameters<typeof parseFilter>[1]): ScimFilterError {
  try {
    parseFilter(input, options);
  } catch (e) {
    expect(e).toBeInstanceOf(ScimFilterError);
    expect((e as ScimFilterError).scimType).toBe('invalidFilter');
    return e as ScimFilterError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

function pathError(input: string): ScimFilterError {
  try {
    parsePatchPath(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ScimFilterError);
    expect((e as ScimFilterError).scimType).toBe('invalidPath');
    return e as ScimFilterError;
  }
  throw new Error(`expected path ${JSON.stringify(input)} to be rejected`);
}

describe('RFC 7644 §3.4.2.2 example filters', () => {
  const examples: [string, Filter][] = [
    ['userName Eq "john"', { op: 'eq', path: p('userName'), value: 'john' }],
    ['name.familyName co "O\'Malley"', { op: 'co', path: p('name', 'familyName'), value: "O'Malley" }],
    [`${CORE_USER}:userName sw "J"`, { op: 'sw', path: p('userName', undefined, CORE_USER), value: 'J' }],
    ['title pr', { op: 'pr', path: p('title') }],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', { op: 'gt', path: p('meta', 'lastModified'), value: '2011-05-13T04:42:34Z' }],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', { op: 'ge', path: p('meta', 'lastModified'), value: '2011-05-13T04:42:34Z' }],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', { op: 'lt', path: p('meta', 'lastModified'), value: '2011-05-13T04:42:34Z' }],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', { op: 'le', path: p('meta', 'lastModified'), value: '2011-05-13T04:42:34Z' }],
    [
      'title pr and userType eq "Employee"',
      { op: 'and', left: { op: 'pr', path: p('title') }, right: { op: 'eq', path: p('userType'), value: 'Employee' } },
    ],
    [
      'title pr or userType eq "Intern"',
      { op: 'or', left: { op: 'pr', path: p('title') }, right: { op: 'eq', path: p('userType'), value: 'Intern' } },
    ],
    [`schemas eq "${ENTERPRISE}"`, { op: 'eq', path: p('schemas'), value: ENTERPRISE }],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      {
        op: 'and',
        left: { op: 'eq', path: p('userType'), value: 'Employee' },
        right: {
          op: 'or',
          left: { op: 'co', path: p('emails'), value: 'example.com' },
          right: { op: 'co', path: p('emails', 'value'), value: 'example.org' },
        },
      },
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      {
        op: 'and',
        left: { op: 'ne', path: p('userType'), value: 'Employee' },
        right: {
          op: 'not',
          filter: {
            op: 'or',
            left: { op: 'co', path: p('emails'), value: 'example.com' },
            right: { op: 'co', path: p('emails', 'value'), value: 'example.org' },
          },
        },
      },
    ],
    [
      'userType eq "Employee" and (emails.type eq "work")',
      {
        op: 'and',
        left: { op: 'eq', path: p('userType'), value: 'Employee' },
        right: { op: 'eq', path: p('emails', 'type'), value: 'work' },
      },
    ],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      {
        op: 'and',
        left: { op: 'eq', path: p('userType'), value: 'Employee' },
        right: {
          op: 'valuePath',
          path: p('emails'),
          filter: {
            op: 'and',
            left: { op: 'eq', path: p('type'), value: 'work' },
            right: { op: 'co', path: p('value'), value: '@example.com' },
          },
        },
      },
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      {
        op: 'or',
        left: {
          op: 'valuePath',
          path: p('emails'),
          filter: {
            op: 'and',
            left: { op: 'eq', path: p('type'), value: 'work' },
            right: { op: 'co', path: p('value'), value: '@example.com' },
          },
        },
        right: {
          op: 'valuePath',
          path: p('ims'),
          filter: {
            op: 'and',
            left: { op: 'eq', path: p('type'), value: 'xmpp' },
            right: { op: 'co', path: p('value'), value: '@foo.com' },
          },
        },
      },
    ],
  ];

  for (const [input, ast] of examples) {
    it(`RFC 7644 §3.4.2.2: ${input}`, () => {
      expect(parseFilter(input)).toStrictEqual(ast);
      // The canonical form re-parses to the same AST.
      expect(parseFilter(formatFilter(ast))).toStrictEqual(ast);
    });
  }

  it('RFC 7644 §3.4.2.2: all nine comparison operators, plus pr', () => {
    for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const) {
      expect(parseFilter(`a ${op} 1`)).toStrictEqual({ op, path: p('a'), value: 1 });
    }
    expect(parseFilter('a pr')).toStrictEqual({ op: 'pr', path: p('a') });
  });
});

describe('RFC 7644 §3.4.2.2: case-insensitivity', () => {
  it('RFC 7644 §3.4.2.2: operators, and/or/not and literals are case-insensitive; attribute spelling is kept', () => {
    expect(parseFilter('UserName EQ "John" AND Title PR OR NOT (active Eq TRUE) aNd x ne NULL and y eq False')).toStrictEqual({
      op: 'or',
      left: { op: 'and', left: { op: 'eq', path: p('UserName'), value: 'John' }, right: { op: 'pr', path: p('Title') } },
      right: {
        op: 'and',
        left: {
          op: 'and',
          left: { op: 'not', filter: { op: 'eq', path: p('active'), value: true } },
          right: { op: 'ne', path: p('x'), value: null },
        },
        right: { op: 'eq', path: p('y'), value: false },
      },
    });
  });

  it('RFC 7644 §3.4.2.2: string values keep their case', () => {
    expect(parseFilter('userName eq "JoHn"')).toMatchObject({ value: 'JoHn' });
  });
});

describe('RFC 7644 §3.4.2.2: precedence and grouping', () => {
  const a = { op: 'pr', path: p('a') } as const;
  const b = { op: 'pr', path: p('b') } as const;
  const c = { op: 'pr', path: p('c') } as const;

  it('RFC 7644 §3.4.2.2: "and" binds tighter than "or" (a or b and c)', () => {
    expect(parseFilter('a pr or b pr and c pr')).toStrictEqual({ op: 'or', left: a, right: { op: 'and', left: b, right: c } });
  });

  it('RFC 7644 §3.4.2.2: "and" binds tighter than "or" (a and b or c)', () => {
    expect(parseFilter('a pr and b pr or c pr')).toStrictEqual({ op: 'or', left: { op: 'and', left: a, right: b }, right: c });
  });

  it('RFC 7644 §3.4.2.2: parentheses override precedence', () => {
    expect(parseFilter('(a pr or b pr) and c pr')).toStrictEqual({ op: 'and', left: { op: 'or', left: a, right: b }, right: c });
  });

  it('RFC 7644 §3.4.2.2: and/or are left-associative', () => {
    expect(parseFilter('a pr and b pr and c pr')).toStrictEqual({ op: 'and', left: { op: 'and', left: a, right: b }, right: c });
    expect(parseFilter('a pr or b pr or c pr')).toStrictEqual({ op: 'or', left: { op: 'or', left: a, right: b }, right: c });
    expect(parseFilter('a pr and (b pr and c pr)')).toStrictEqual({ op: 'and', left: a, right: { op: 'and', left: b, right: c } });
  });

  it('RFC 7644 §3.4.2.2: "not" applies to its parenthesised group only', () => {
    expect(parseFilter('not (a pr) and b pr')).toStrictEqual({ op: 'and', left: { op: 'not', filter: a }, right: b });
    expect(parseFilter('not(a pr)')).toStrictEqual({ op: 'not', filter: a });
    expect(parseFilter('not (not (a pr))')).toStrictEqual({ op: 'not', filter: { op: 'not', filter: a } });
  });

  it('RFC 7644 §3.4.2.2: redundant parentheses leave no trace in the AST', () => {
    expect(parseFilter('((a pr))')).toStrictEqual(a);
  });

  it('RFC 7644 §3.4.2.2: valuePath nested in a logical expression', () => {
    expect(parseFilter('userType eq "Employee" and (emails[type eq "work"] or emails.value co "@example.org")')).toStrictEqual({
      op: 'and',
      left: { op: 'eq', path: p('userType'), value: 'Employee' },
      right: {
        op: 'or',
        left: { op: 'valuePath', path: p('emails'), filter: { op: 'eq', path: p('type'), value: 'work' } },
        right: { op: 'co', path: p('emails', 'value'), value: '@example.org' },
      },
    });
  });

  it('RFC 7644 §3.4.2.2: valFilter allows "not (...)" and grouping inside brackets', () => {
    expect(parseFilter('emails[not (type eq "work") and (primary eq true or value pr)]')).toStrictEqual({
      op: 'valuePath',
      path: p('emails'),
      filter: {
        op: 'and',
        left: { op: 'not', filter: { op: 'eq', path: p('type'), value: 'work' } },
        right: { op: 'or', left: { op: 'eq', path: p('primary'), value: true }, right: { op: 'pr', path: p('value') } },
      },
    });
  });

  it('RFC 7644 §3.4.2.2: valuePath on a schema-qualified attribute', () => {
    expect(parseFilter(`${CORE_USER}:emails[type eq "work"]`)).toStrictEqual({
      op: 'valuePath',
      path: p('emails', undefined, CORE_USER),
      filter: { op: 'eq', path: p('type'), value: 'work' },
    });
  });

  it('RFC 7643 §2.1: attributes named like keywords parse by position', () => {
    expect(parseFilter('not pr')).toStrictEqual({ op: 'pr', path: p('not') });
    expect(parseFilter('and eq "x" and or pr')).toStrictEqual({
      op: 'and',
      left: { op: 'eq', path: p('and'), value: 'x' },
      right: { op: 'pr', path: p('or') },
    });
    expect(parseFilter('pr pr')).toStrictEqual({ op: 'pr', path: p('pr') });
  });
});

describe('RFC 7644 §3.4.2.2: schema-qualified attribute paths', () => {
  it('RFC 7644 §3.4.2.2: core schema URN', () => {
    expect(parseFilter(`${CORE_USER}:userName eq "bjensen"`)).toStrictEqual({ op: 'eq', path: p('userName', undefined, CORE_USER), value: 'bjensen' });
  });

  it('RFC 7643 §4.3: enterprise extension attribute (URN contains "2.0")', () => {
    expect(parseFilter(`${ENTERPRISE}:employeeNumber eq "701984"`)).toStrictEqual({
      op: 'eq',
      path: p('employeeNumber', undefined, ENTERPRISE),
      value: '701984',
    });
  });

  it('RFC 7643 §4.3: enterprise extension sub-attribute manager.value', () => {
    expect(parseFilter(`${ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`)).toStrictEqual({
      op: 'eq',
      path: p('manager', 'value', ENTERPRISE),
      value: '26118915-6090-4610-87e4-49d8ca9f808d',
    });
  });

  it('RFC 7643 §2.1: members.$ref is a valid sub-attribute', () => {
    expect(parseFilter('members.$ref pr')).toStrictEqual({ op: 'pr', path: p('members', '$ref') });
  });

  it('RFC 7644 §3.4.2.2: invalid attribute paths are rejected', () => {
    for (const bad of ['1abc pr', '_x pr', 'a.b.c pr', 'a. pr', '.a pr', ':userName pr', 'urn: pr', 'urn:x: pr', 'a b pr', 'us=er pr', 'emails.$ref.x pr', '$ref pr']) {
      filterError(bad);
    }
  });
});

describe('RFC 7644 §3.4.2.2: JSON values (RFC 7159)', () => {
  it('RFC 7159 §7: string escapes are decoded', () => {
    expect(parseFilter(String.raw`a eq "q\" b\\ s\/ \b\f\n\r\t \u00e9\u20AC \ud83d\ude00"`)).toMatchObject({ value: 'q" b\\ s/ \b\f\n\r\t é€ 😀' });
  });

  it('RFC 7159 §7: non-ASCII characters pass through', () => {
    expect(parseFilter('displayName eq "Zoë 日本 😀"')).toMatchObject({ value: 'Zoë 日本 😀' });
  });

  it('RFC 7159 §6: numbers', () => {
    const cases: [string, number][] = [['0', 0], ['-1', -1], ['42', 42], ['3.25', 3.25], ['-0.5e-3', -0.0005], ['1E+2', 100], ['-0', 0]];
    for (const [text, n] of cases) expect(parseFilter(`a gt ${text}`)).toStrictEqual({ op: 'gt', path: p('a'), value: n });
  });

  it('RFC 7159: malformed values are rejected', () => {
    for (const bad of ['a eq 01', 'a eq 1.', 'a eq .5', 'a eq +1', 'a eq 1e', 'a eq 0x10', 'a eq NaN', 'a eq Infinity', 'a eq 1e999', 'a eq john', "a eq 'john'", 'a eq "\\x"', 'a eq "\\u12"', 'a eq "\\u12G4"', 'a eq "tab\there"', 'a eq "\\"']) {
      filterError(bad);
    }
  });

  it('RFC 7644 §3.4.2.2: an escaped quote cannot break out of the literal (injection)', () => {
    expect(parseFilter(String.raw`userName eq "x\" or 1 eq 1"`)).toStrictEqual({ op: 'eq', path: p('userName'), value: 'x" or 1 eq 1' });
    expect(parseFilter(`userName eq "x') OR 1=1 --"`)).toStrictEqual({ op: 'eq', path: p('userName'), value: "x') OR 1=1 --" });
    expect(parseFilter('userName eq "a] or b pr) or (c"')).toStrictEqual({ op: 'eq', path: p('userName'), value: 'a] or b pr) or (c' });
  });
});

describe('RFC 7644 §3.4.2.2: malformed filters give invalidFilter with a position', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['   ', 3],
    ['userName eq "john', 12],
    ['userName eq "john" )', 19],
    ['userName eq "john" garbage', 19],
    ['userName eq', 11],
    ['userName', 8],
    ['userName eq "a" and', 19],
    ['and', 3],
    ['or pr or', 8],
    ['userName equals "john"', 9],
    ['userName === "john"', 9],
    ['title pr "x"', 9],
    ['(title pr', 9],
    ['title pr)', 8],
    ['()', 1],
    ['not title pr', 4],
    ['not', 3],
    ['emails[type eq "work"', 21],
    ['emails[]', 7],
    ['emails type eq "work"]', 7],
    ['emails[type eq "work"]]', 22],
    ['emails[type[value eq 1]]', 11],
    ['emails[type eq "work"].value eq "x"', 22],
    ['emails [type eq "work"]', 7],
    ['name.givenName[value pr]', 14],
    ['emails[urn:x:y:type eq "work"]', 7],
    ['emails[type.value eq "work"]', 7],
    ['userName eq "x" & 1', 16],
    ['userName eq "x"\u00a0', 15],
  ];
  for (const [input, position] of cases) {
    it(`RFC 7644 §3.4.2.2: rejects ${JSON.stringify(input)} at position ${position}`, () => {
      const e = filterError(input);
      expect(e.position).toBe(position);
      expect(e.message).toContain(`position ${position}`);
      expect(e.name).toBe('ScimFilterError');
    });
  }

  it('RFC 7644 §3.12: messages are readable and name the offending token', () => {
    expect(filterError('userName equals "john"').message).toBe(
      'Invalid filter at position 9: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after "userName", found "equals"',
    );
    expect(filterError('not title pr').message).toMatch(/"not" must be followed by a parenthesised filter/);
    expect(filterError('userName eq "john').message).toMatch(/unterminated string/);
    expect(filterError('a[b[c pr]]').message).toMatch(/cannot be nested/);
  });

  it('RFC 7644 §3.12: messages escape control characters and truncate long tokens', () => {
    const e = filterError(`userName eq ${'x'.repeat(1000)}\u0007`);
    expect(e.message.length).toBeLessThan(250);
    expect(e.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('rejects non-string input with ScimFilterError', () => {
    expect(() => parseFilter(['a pr'] as unknown as string)).toThrow(ScimFilterError);
    expect(() => parseFilter(undefined as unknown as string)).toThrow(ScimFilterError);
  });
});

describe('RFC 7644 §3.4.2.2: clients in the wild (Entra ID, Okta)', () => {
  it('RFC 7644 §3.4.2.2: Entra ID / Okta provisioning filters', () => {
    expect(parseFilter('userName eq "test_user@contoso.com"')).toStrictEqual({ op: 'eq', path: p('userName'), value: 'test_user@contoso.com' });
    expect(parseFilter('externalId eq "xyz"')).toStrictEqual({ op: 'eq', path: p('externalId'), value: 'xyz' });
    expect(parseFilter('displayName eq "Group Name"')).toStrictEqual({ op: 'eq', path: p('displayName'), value: 'Group Name' });
    expect(parseFilter('id eq "2819c223-7f76-453a-919d-413861904646"')).toStrictEqual({
      op: 'eq',
      path: p('id'),
      value: '2819c223-7f76-453a-919d-413861904646',
    });
    expect(parseFilter('members[value eq "abc"]')).toStrictEqual({ op: 'valuePath', path: p('members'), filter: { op: 'eq', path: p('value'), value: 'abc' } });
  });

  it('RFC 7644 §3.4.2.2: surrounding and repeated whitespace (Okta trailing space) is accepted', () => {
    const expected = { op: 'eq', path: p('userName'), value: 'x' };
    expect(parseFilter('userName eq "x" ')).toStrictEqual(expected);
    expect(parseFilter('  userName \t eq\r\n"x"  ')).toStrictEqual(expected);
    expect(parseFilter(' ( userName eq "x" ) ')).toStrictEqual(expected);
  });
});

describe('hostile inputs', () => {
  it('rejects 10k nested parentheses without stack overflow', () => {
    const deep = `${'('.repeat(10_000)}a pr${')'.repeat(10_000)}`;
    expect(filterError(deep).message).toMatch(/longer than 4096/);
    // Even with the length cap lifted, the depth cap stops the recursion.
    const e = filterError(deep, { maxLength: Infinity });
    expect(e.message).toMatch(/nested deeper than 50/);
    expect(e.position).toBe(MAX_FILTER_DEPTH);
  });

  it('rejects nesting beyond the depth limit within the length limit', () => {
    const input = `${'('.repeat(2000)}a pr${')'.repeat(2000)}`;
    expect(input.length).toBeLessThanOrEqual(MAX_FILTER_LENGTH);
    expect(filterError(input).message).toMatch(/nested deeper than 50/);
    expect(filterError(`${'not ('.repeat(500)}a pr${')'.repeat(500)}`).message).toMatch(/nested deeper/);
    expect(filterError('(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((').message).toMatch(/nested deeper/);
  });

  it('accepts nesting at exactly the depth limit', () => {
    const input = `${'('.repeat(MAX_FILTER_DEPTH)}a pr${')'.repeat(MAX_FILTER_DEPTH)}`;
    expect(parseFilter(input)).toStrictEqual({ op: 'pr', path: p('a') });
    expect(() => parseFilter(`(${input})`)).toThrow(/nested deeper/);
  });

  it('rejects input over 4096 characters, accepts it at 4096', () => {
    const at = `userName eq "${'x'.repeat(MAX_FILTER_LENGTH - 14)}"`;
    expect(at.length).toBe(MAX_FILTER_LENGTH);
    expect(parseFilter(at)).toMatchObject({ op: 'eq' });
    expect(filterError(`${at} `).position).toBe(MAX_FILTER_LENGTH);
  });

  it('parses a maximal and-chain and formats it without recursion trouble', () => {
    const terms = Array.from({ length: 450 }, () => 'a pr');
    const input = terms.join(' and ');
    expect(input.length).toBeLessThanOrEqual(MAX_FILTER_LENGTH);
    const ast = parseFilter(input);
    expect(formatFilter(ast)).toBe(input);
  });

  it('an unterminated string of 10k backslashes and quotes fails fast', () => {
    const input = `a eq "${'\\"'.repeat(5000)}`;
    filterError(input, { maxLength: Infinity });
  });
});

describe('RFC 7644 §3.5.2: PATCH paths', () => {
  it('RFC 7644 §3.5.2: members[value eq "2819c223-7f76-453a-919d-413861904646"]', () => {
    expect(parsePatchPath('members[value eq "2819c223-7f76-453a-919d-413861904646"]')).toStrictEqual({
      path: p('members'),
      valueFilter: { op: 'eq', path: p('value'), value: '2819c223-7f76-453a-919d-413861904646' },
    });
  });

  it('RFC 7644 §3.5.2: emails[type eq "work"].value', () => {
    expect(parsePatchPath('emails[type eq "work"].value')).toStrictEqual({
      path: p('emails'),
      valueFilter: { op: 'eq', path: p('type'), value: 'work' },
      subAttr: 'value',
    });
  });

  it('RFC 7644 §3.5.2: name.familyName', () => {
    expect(parsePatchPath('name.familyName')).toStrictEqual({ path: p('name', 'familyName') });
  });

  it('RFC 7644 §3.5.2: addresses[type eq "work"]', () => {
    expect(parsePatchPath('addresses[type eq "work"]')).toStrictEqual({
      path: p('addresses'),
      valueFilter: { op: 'eq', path: p('type'), value: 'work' },
    });
  });

  it('RFC 7644 §3.5.2: enterprise extension manager URN path', () => {
    expect(parsePatchPath(`${ENTERPRISE}:manager`)).toStrictEqual({ path: p('manager', undefined, ENTERPRISE) });
    expect(parsePatchPath(`${ENTERPRISE}:manager.value`)).toStrictEqual({ path: p('manager', 'value', ENTERPRISE) });
  });

  it('RFC 7644 §3.5.2: simple, complex-filter and $ref paths', () => {
    expect(parsePatchPath('members')).toStrictEqual({ path: p('members') });
    expect(parsePatchPath(' displayName ')).toStrictEqual({ path: p('displayName') });
    expect(parsePatchPath('members[value eq "a" or value eq "b"].$ref')).toMatchObject({ subAttr: '$ref' });
    expect(parsePatchPath('emails[type eq "work" and not (primary eq true)].display')).toMatchObject({
      valueFilter: { op: 'and' },
      subAttr: 'display',
    });
  });

  it('RFC 7644 §3.5.2: PATCH paths re-format to the same text', () => {
    for (const s of ['members[value eq "x"]', 'emails[type eq "work"].value', 'name.familyName', `${ENTERPRISE}:manager.value`]) {
      expect(formatPatchPath(parsePatchPath(s))).toBe(s);
    }
  });

  const invalid: [string, number][] = [
    ['', 0],
    ['title pr', 6],
    ['userName eq "x"', 9],
    ['emails[type eq "work"', 21],
    ['emails[type eq "work"]value', 22],
    ['emails[type eq "work"] .value', 23],
    ['emails[type eq "work"].value.x', 22],
    ['emails[type eq "work"].', 22],
    ['emails[type eq "work"][value pr]', 22],
    ['emails [type eq "work"]', 7],
    ['emails[]', 7],
    ['emails[a[b pr]]', 8],
    ['name.familyName[value pr]', 15],
    ['name.familyName.x', 0],
    ['1emails', 0],
    ['"emails"', 0],
    ['(emails)', 0],
    ['emails[type eq work]', 15],
    ['emails[type eq "work"] or x pr', 23],
  ];
  for (const [input, position] of invalid) {
    it(`RFC 7644 §3.5.2: rejects path ${JSON.stringify(input)} with invalidPath at ${position}`, () => {
      expect(pathError(input).position).toBe(position);
    });
  }

  it('RFC 7644 §3.5.2: path errors say "Invalid path"', () => {
    expect(pathError('title pr').message).toBe('Invalid path at position 6: expected "[" or end of path, found "pr"');
  });
});
