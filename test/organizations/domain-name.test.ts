/** Canonical organization domains: one stored form, and nothing no single organization can own. */
import { expect, it } from 'vitest';
import { canonicalDomain, tryCanonicalDomain } from '../../src/organizations/domain-name.ts';

it('lowercases, drops the trailing dot and converts IDNs to punycode', () => {
  expect(canonicalDomain('Example.COM.')).toBe('example.com');
  expect(canonicalDomain('  acme.co.uk ')).toBe('acme.co.uk');
  expect(canonicalDomain('Bücher.de')).toBe('xn--bcher-kva.de');
  expect(canonicalDomain('xn--bcher-kva.de')).toBe('xn--bcher-kva.de');
  expect(canonicalDomain('acme.github.io')).toBe('acme.github.io');
});

it.each([
  ['', 'empty'],
  ['com', 'single label'],
  ['localhost', 'single label'],
  ['co.uk', 'public suffix (ICANN)'],
  ['github.io', 'public suffix (private section)'],
  ['1.2.3.4', 'IPv4'],
  ['0x7f.1', 'IPv4 in another notation'],
  ['::1', 'IPv6'],
  ['[::1]', 'IPv6 literal'],
  ['https://acme.com', 'URL'],
  ['acme.com/path', 'path'],
  ['acme.com:443', 'port'],
  ['admin@acme.com', 'email'],
  ['a..b.com', 'empty label'],
  ['-acme.com', 'leading hyphen'],
  ['acme_.com', 'underscore'],
  [`${'a'.repeat(64)}.com`, 'label over 63'],
  [`${'a.'.repeat(119)}com`, 'name too long for the challenge record'],
])('refuses %j (%s)', (input) => {
  expect(() => canonicalDomain(input)).toThrow(/not a domain this organization can claim/);
  expect(tryCanonicalDomain(input)).toBeUndefined();
});
