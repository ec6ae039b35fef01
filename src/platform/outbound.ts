/**
 * Outbound HTTP: the one way this service fetches anything (upstream discovery, JWKS and token responses today; SAML
 * metadata and webhooks later). A URL we fetch may come from a tenant administrator or from a document someone else
 * serves, so every request is bounded the same way:
 * - the URL is https, or http to a loopback host when loopback is allowed (`urlProblem`);
 * - the host is resolved once and refused if any address is loopback or private (unless allowed) or link-local,
 *   metadata, unspecified, multicast or reserved (never allowed); the socket then connects to that checked address,
 *   with no second lookup, so DNS rebinding cannot swap it (OWASP SSRF Prevention Cheat Sheet,
 *   https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html);
 * - redirects are never followed, the whole exchange has a deadline, and at most `maxBytes` of body are read.
 * `document()` adds a cache for GET documents: a success for its TTL, a failure for `failureTtlMs`, one fetch in
 * flight per URL, so anonymous traffic cannot make the server fetch in a loop.
 */
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { Config } from './config.ts';

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'reserved';

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface OutboundPolicy {
  /** Loopback targets (127/8, ::1, localhost), and plain http to them: tests and local development only. */
  allowLoopback: boolean;
  /** RFC 1918, RFC 6598 shared (100.64/10) and RFC 4193 unique-local (fc00::/7) targets. */
  allowPrivate: boolean;
  timeoutMs: number;
  maxBytes: number;
  /** How long a failed document fetch is answered from the cache. */
  failureTtlMs?: number;
  /** DNS resolution (default: the system resolver, every address). */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

export type OutboundFailure = 'url' | 'address' | 'dns' | 'timeout' | 'redirect' | 'too-large' | 'status' | 'network' | 'invalid-json';

export class OutboundError extends Error {
  readonly reason: OutboundFailure;
  constructor(reason: OutboundFailure, message: string) {
    super(message);
    this.name = 'OutboundError';
    this.reason = reason;
  }
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string> | [string, string][] | Headers;
  body?: string | URLSearchParams | Uint8Array | ArrayBuffer | null;
  signal?: AbortSignal;
  /** Per-call cap, at most the policy's. */
  maxBytes?: number;
  /** Keep the connection open for the next request of this session (`Outbound.session()`); default: one per request. */
  session?: OutboundSession;
}

/**
 * Keep-alive connections for a series of requests (a webhook endpoint's deliveries): every request is still checked
 * and its host resolved as any other, and a new socket still connects only to the address checked for its request;
 * an open socket is reused. `close()` when the series ends.
 */
export class OutboundSession {
  readonly #agents = new Map<string, http.Agent>();
  agentFor(protocol: string): http.Agent {
    let agent = this.#agents.get(protocol);
    if (!agent) {
      const options = { keepAlive: true, maxSockets: 1, keepAliveMsecs: 1000 };
      agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.#agents.set(protocol, agent);
    }
    return agent;
  }
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

const DEFAULT_FAILURE_TTL_MS = 30_000;
const CACHE_LIMIT = 1000;

function subnets(type: 'ipv4' | 'ipv6', cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, prefix] = cidr.split('/');
    list.addSubnet(net!, Number(prefix), type);
  }
  return list;
}

// Checked in this order; the first match decides. Metadata first: fd00:ec2::254 also lies in fc00::/7.
const V4: [AddressClass, BlockList][] = [
  ['metadata', subnets('ipv4', ['169.254.169.254/32', '100.100.100.200/32'])],
  ['link-local', subnets('ipv4', ['169.254.0.0/16'])],
  ['loopback', subnets('ipv4', ['127.0.0.0/8'])],
  ['private', subnets('ipv4', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'])],
  // RFC 6890 special-purpose: this network, IETF protocol assignments, documentation, benchmarking, multicast,
  // reserved and broadcast.
  ['reserved', subnets('ipv4', ['0.0.0.0/8', '192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4'])],
];
const V6: [AddressClass, BlockList][] = [
  ['metadata', subnets('ipv6', ['fd00:ec2::254/128'])],
  ['link-local', subnets('ipv6', ['fe80::/10'])],
  ['loopback', subnets('ipv6', ['::1/128'])],
  ['private', subnets('ipv6', ['fc00::/7', 'fec0::/10'])],
  // Unspecified, IPv4-compatible (deprecated), discard, Teredo, documentation, multicast.
  ['reserved', subnets('ipv6', ['::/96', '100::/64', '2001::/32', '2001:db8::/32', 'ff00::/8'])],
];

/** The 16 bytes of an IPv6 address (which `isIP` has accepted). */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1]!.split('.').map(Number));
    text = text.slice(0, -dotted[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const bytes = all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** The IPv4 address an IPv6 address carries: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12).join('.');
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.slice(12).join('.');
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join('.');
  return undefined;
}

/** What kind of address this is, for the outbound rule. Not an IP address at all: 'reserved'. */
export function addressClass(address: string): AddressClass {
  const family = isIP(address);
  if (family === 4) return V4.find(([, list]) => list.check(address, 'ipv4'))?.[0] ?? 'public';
  if (family !== 6) return 'reserved';
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return addressClass(v4);
  return V6.find(([, list]) => list.check(address, 'ipv6'))?.[0] ?? 'public';
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || (isIP(h) !== 0 && addressClass(h) === 'loopback');
}

/**
 * The https rule, for configured URLs and for every URL taken from a fetched document alike: https, or plain http
 * to a loopback host when loopback is allowed; no user info, no fragment. Undefined when the URL is acceptable.
 */
export function urlProblem(value: string | URL, allowLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username || url.password) return 'credentials in the URL';
  if (url.hash) return 'a fragment in the URL';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && allowLoopback && isLoopbackHost(url.hostname)) return undefined;
  return allowLoopback ? 'not https (plain http only to a loopback host)' : 'not https';
}

function headerRecord(h: OutboundRequest['headers']): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  return Array.isArray(h) ? Object.fromEntries(h) : { ...h };
}

function bodyBytes(body: OutboundRequest['body'], headers: Record<string, string>): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (body instanceof URLSearchParams) {
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
    return Buffer.from(body.toString());
  }
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new OutboundError('url', 'unsupported request body');
}

const NO_BODY_STATUS = new Set([204, 205, 304]);

export class Outbound {
  readonly policy: Required<Omit<OutboundPolicy, 'resolve'>>;
  readonly #resolve: (hostname: string) => Promise<ResolvedAddress[]>;
  readonly #documents = new Map<string, { until: number; value?: unknown; error?: unknown; pending?: Promise<unknown> }>();

  constructor(policy: OutboundPolicy) {
    const { resolve, ...limits } = policy;
    this.policy = { failureTtlMs: DEFAULT_FAILURE_TTL_MS, ...limits };
    this.#resolve = resolve ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
  }

  /** Connections kept open across a series of requests (see OutboundSession). */
  session(): OutboundSession {
    return new OutboundSession();
  }

  /** The https rule under this policy (see `urlProblem`). */
  check(url: string | URL): string | undefined {
    return urlProblem(url, this.policy.allowLoopback);
  }

  #refused(cls: AddressClass): boolean {
    if (cls === 'public') return false;
    if (cls === 'loopback') return !this.policy.allowLoopback;
    if (cls === 'private') return !this.policy.allowPrivate;
    return true;
  }

  /** Every address of the host, checked; the first is the one we connect to. */
  async #addressFor(url: URL): Promise<ResolvedAddress> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: ResolvedAddress[];
    if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
    else {
      try {
        addresses = await this.#resolve(host);
      } catch (e) {
        throw new OutboundError('dns', `${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      if (!addresses.length) throw new OutboundError('dns', `${host} does not resolve`);
    }
    // Any refused address refuses the host: a name that also points inside must not be reachable at all.
    for (const a of addresses) {
      const cls = addressClass(a.address);
      if (this.#refused(cls)) throw new OutboundError('address', `${host} resolves to a ${cls} address (${a.address}), which outbound requests may not reach`);
    }
    return addresses[0]!;
  }

  /**
   * A fetch-compatible request (what oauth4webapi's `customFetch` takes), bounded by the policy. Rejects with
   * OutboundError for a refused URL or address, a redirect, a deadline passed or a body over the cap.
   */
  fetch = async (input: string | URL, init: OutboundRequest = {}): Promise<Response> => {
    const url = new URL(input);
    const problem = this.check(url);
    if (problem) throw new OutboundError('url', `${url.origin} refused: ${problem}`);
    const { address, family } = await this.#addressFor(url);
    const maxBytes = Math.min(init.maxBytes ?? this.policy.maxBytes, this.policy.maxBytes);
    const headers: Record<string, string> = { 'user-agent': 'iam-service', ...headerRecord(init.headers) };
    const body = bodyBytes(init.body, headers);
    if (body) headers['content-length'] = String(body.length);
    // The socket connects to the address checked above, never to a fresh lookup (DNS rebinding).
    const lookup: LookupFunction = (_host, options, cb) => {
      if (options.all) (cb as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [{ address, family }]);
      else cb(null, address, family);
    };
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      let done = false;
      const finish = (e: Error | undefined, res?: Response) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        init.signal?.removeEventListener('abort', onAbort);
        if (e) {
          req.destroy();
          reject(e);
        } else resolve(res!);
      };
      const timer = setTimeout(() => finish(new OutboundError('timeout', `${url.origin} did not answer within ${this.policy.timeoutMs} ms`)), this.policy.timeoutMs);
      const onAbort = () => finish(new OutboundError('timeout', `request to ${url.origin} aborted`));
      const agent = init.session?.agentFor(url.protocol) ?? false;
      const req = transport.request(url, { method: init.method ?? 'GET', headers, lookup, agent, maxHeaderSize: 16 * 1024 }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) return finish(new OutboundError('redirect', `${url.origin} answered ${status}: redirects are not followed`));
        const declared = Number(res.headers['content-length']);
        if (declared > maxBytes) return finish(new OutboundError('too-large', `${url.origin} sent ${declared} bytes, more than the ${maxBytes} allowed`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return finish(new OutboundError('too-large', `${url.origin} sent more than the ${maxBytes} bytes allowed`));
          chunks.push(chunk);
        });
        res.on('error', (e) => finish(new OutboundError('network', `${url.origin}: ${e.message}`)));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            try {
              responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
            } catch {
              // A header the Fetch standard cannot represent is dropped, not fatal.
            }
          }
          const payload = NO_BODY_STATUS.has(status) ? null : Buffer.concat(chunks);
          try {
            finish(undefined, new Response(payload, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
          } catch (e) {
            finish(new OutboundError('network', `${url.origin}: ${(e as Error).message}`));
          }
        });
      });
      req.on('error', (e) => finish(e instanceof OutboundError ? e : new OutboundError('network', `${url.origin}: ${e.message}`)));
      if (init.signal?.aborted) return onAbort();
      init.signal?.addEventListener('abort', onAbort, { once: true });
      req.end(body);
    });
  };

  /**
   * A JSON document (GET), parsed and checked by `parse`, cached for `ttlMs`. A failure (fetch, status, JSON or
   * `parse` throwing) is cached for the policy's `failureTtlMs` and thrown again to every caller in that window.
   */
  async document<T>(url: string, parse: (body: unknown) => T, ttlMs: number): Promise<T> {
    const now = Date.now();
    const hit = this.#documents.get(url);
    if (hit?.pending) return hit.pending as Promise<T>;
    if (hit && hit.until > now) {
      if ('error' in hit) throw hit.error;
      return hit.value as T;
    }
    const pending = (async () => {
      const res = await this.fetch(url, { headers: { accept: 'application/json' } });
      if (!res.ok) throw new OutboundError('status', `${new URL(url).origin} answered ${res.status}`);
      let json: unknown;
      try {
        json = JSON.parse(await res.text());
      } catch {
        throw new OutboundError('invalid-json', `${new URL(url).origin} did not send JSON`);
      }
      return parse(json);
    })();
    this.#trim(now);
    this.#documents.set(url, { until: now, pending });
    try {
      const value = await pending;
      this.#documents.set(url, { until: Date.now() + ttlMs, value });
      return value;
    } catch (error) {
      this.#documents.set(url, { until: Date.now() + this.policy.failureTtlMs, error });
      throw error;
    }
  }

  #trim(now: number) {
    if (this.#documents.size < CACHE_LIMIT) return;
    for (const [k, v] of this.#documents) if (!v.pending && v.until <= now) this.#documents.delete(k);
    if (this.#documents.size >= CACHE_LIMIT) this.#documents.clear();
  }
}

export function outboundFromConfig(config: Pick<Config, 'OUTBOUND_ALLOW_LOOPBACK' | 'OUTBOUND_ALLOW_PRIVATE' | 'OUTBOUND_TIMEOUT_MS' | 'OUTBOUND_MAX_BYTES'>): Outbound {
  return new Outbound({ allowLoopback: config.OUTBOUND_ALLOW_LOOPBACK, allowPrivate: config.OUTBOUND_ALLOW_PRIVATE, timeoutMs: config.OUTBOUND_TIMEOUT_MS, maxBytes: config.OUTBOUND_MAX_BYTES });
}
