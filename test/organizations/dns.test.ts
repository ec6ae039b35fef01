/** TXT lookups (RFC 1035 §3.3.14) and the DNS_SERVERS setting. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { lookupTxt, txtResolver } from '../../src/organizations/dns.ts';
import { loadConfig } from '../../src/platform/config.ts';

let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startDnsServer();
});
afterAll(() => dns.close());

it('RFC 1035 §3.3.14: a value split across character-strings is joined; each record stays separate', async () => {
  const long = `iam-domain-verification=${'x'.repeat(300)}`;
  dns.txt.set('_iam-challenge.split.example.com', [long, 'v=spf1 -all']);
  const resolver = txtResolver([`127.0.0.1:${dns.port}`]);
  expect(await lookupTxt(resolver, '_iam-challenge.split.example.com')).toEqual({ found: [long, 'v=spf1 -all'] });
  expect(await lookupTxt(resolver, '_iam-challenge.none.example.com')).toEqual({ error: 'No TXT record at _iam-challenge.none.example.com.' });
  dns.txt.set('_iam-challenge.a-only.example.com', []);
  expect(await lookupTxt(resolver, '_iam-challenge.a-only.example.com')).toEqual({ error: 'No TXT record at _iam-challenge.a-only.example.com.' });
});

it('DNS_SERVERS takes IP addresses with optional ports; anything else stops the start with a clear message', () => {
  expect(loadConfig({ DNS_SERVERS: '192.0.2.53, [2001:db8::53]:5353,127.0.0.1:5353' }).DNS_SERVERS).toEqual(['192.0.2.53', '[2001:db8::53]:5353', '127.0.0.1:5353']);
  expect(loadConfig({}).DNS_SERVERS).toEqual([]);
  expect(() => loadConfig({ DNS_SERVERS: 'dns.example.com' })).toThrow(/DNS_SERVERS: IP addresses/);
});
