/**
 * DNS TXT lookups for domain verification, behind a one-method interface so the service and the job take any
 * resolver: the system's, the servers in DNS_SERVERS, or a loopback test server.
 * TXT RDATA is one or more character-strings, RFC 1035 §3.3.14, https://www.rfc-editor.org/rfc/rfc1035#section-3.3.14;
 * a long value is split across strings, so each record's strings are joined before comparing.
 */
import { promises as dns } from 'node:dns';

export interface TxtResolver {
  /** The TXT records at `name`, each as its character-strings (node:dns `resolveTxt`). */
  resolveTxt(name: string): Promise<string[][]>;
}

/** A resolver asking `servers` (`host` or `host:port`), or the system's resolvers when none are given. */
export function txtResolver(servers: string[] = []): TxtResolver {
  const resolver = new dns.Resolver({ timeout: 3_000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return resolver;
}

export type TxtLookup = { found: string[] } | { error: string };

/** The joined TXT values at `name`, or why there are none (a reason an admin can act on). */
export async function lookupTxt(resolver: TxtResolver, name: string): Promise<TxtLookup> {
  try {
    return { found: (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === dns.NOTFOUND || code === dns.NODATA) return { error: `No TXT record at ${name}.` };
    return { error: `The DNS lookup of ${name} failed (${code ?? 'error'}); it will be tried again.` };
  }
}
