/**
 * Canonical domain names for organization domains. A domain is stored and compared in one form: lowercase ASCII
 * (IDNA/punycode through WHATWG `domainToASCII`, UTS #46), no trailing dot. IP addresses, single labels and public
 * suffixes (`com`, `co.uk`, `github.io`: the Public Suffix List, ICANN and private sections) are refused, since no
 * one organization can own them.
 * Label and name lengths: RFC 1035 §2.3.4, https://www.rfc-editor.org/rfc/rfc1035#section-2.3.4
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';
import { Invalid } from '../platform/errors/domain.ts';

/** The TXT record's owner name is `_iam-challenge.<domain>`; it too must fit in 253 characters. */
export const CHALLENGE_LABEL = '_iam-challenge';
export const MAX_DOMAIN_LENGTH = 253 - CHALLENGE_LABEL.length - 1;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The canonical form of `input`, or an Invalid (400) saying what is wrong with it. */
export function canonicalDomain(input: string): string {
  const trimmed = input.trim().replace(/\.$/, '');
  const invalid = (why: string) => new Invalid(`"${input.slice(0, 300)}" is not a domain this organization can claim: ${why}.`, { field: 'domain' });
  if (!trimmed) throw invalid('it is empty');
  if (/[/@:?#\s[\]\\]/.test(trimmed)) throw invalid('give the bare domain name, without scheme, path, port or user');
  if (isIP(trimmed)) throw invalid('IP addresses are not domains');
  const ascii = domainToASCII(trimmed);
  if (!ascii) throw invalid('it is not a valid internationalized domain name');
  if (ascii.length > MAX_DOMAIN_LENGTH) throw invalid(`at most ${MAX_DOMAIN_LENGTH} characters`);
  const labels = ascii.split('.');
  if (labels.length < 2) throw invalid('a domain has at least two labels, e.g. example.com');
  if (!labels.every((l) => LABEL.test(l))) throw invalid('each label is 1 to 63 letters, digits or inner hyphens');
  // domainToASCII turns some numeric forms (e.g. "0x7f.1") into IPv4 addresses.
  if (isIP(ascii) || /^[0-9]+$/.test(labels.at(-1)!)) throw invalid('IP addresses are not domains');
  if (getDomain(ascii, { allowPrivateDomains: true }) === null) throw invalid('it is a public suffix, which no single organization owns');
  return ascii;
}

/** The canonical form, or undefined for anything that is not a claimable domain (lookups never throw). */
export function tryCanonicalDomain(input: string): string | undefined {
  try {
    return canonicalDomain(input);
  } catch {
    return undefined;
  }
}
