/**
 * The bounded outbound fetcher (src/platform/outbound.ts) against real servers on loopback: the https rule, the
 * address rule after DNS (with the checked address pinned), no redirects, the deadline, the size cap and the document
 * cache. DNS answers for invented names come from the `resolve` option; everything else is real sockets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressClass, Outbound, OutboundError, urlProblem, type OutboundPolicy } from '../../src/platform/outbound.ts';
import { loadConfig } from '../../src/platform/config.ts';

let server: http.Server;
let base: string;
let port: number;
const hits = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/doc') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    if (path === '/fail') return res.writeHead(500).end('no');
    if (path === '/redirect') return res.writeHead(302, { location: '/doc' }).end();
    if (path === '/declared-huge') return res.writeHead(200, { 'content-length': String(400 * 1024 * 1024) }).end();
    if (path === '/endless') {
      // Never ends: without the cap the client would buffer until memory ran out.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      return pump();
    }
    if (path === '/silent') return; // accepts, never answers
    if (path === '/echo') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, type: req.headers['content-type'], body })));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const policy = (p: Partial<OutboundPolicy> = {}) => new Outbound({ allowLoopback: true, allowPrivate: false, timeoutMs: 5_000, maxBytes: 64 * 1024, ...p });

async function failure(p: Promise<unknown>): Promise<OutboundError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutboundError);
  return e as OutboundError;
}

describe('addresses', () => {
  it.each([
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['169.254.10.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['2002:0a00:0001::1', 'private'],
    ['0.0.0.0', 'reserved'],
    ['::', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['93.184.215.14', 'public'],
    ['2606:4700::1111', 'public'],
  ])('%s is %s', (address, cls) => {
    expect(addressClass(address)).toBe(cls);
  });

  it('the metadata address is refused, as a literal and by name, even with loopback and private allowed', async () => {
    const open = policy({ allowPrivate: true, resolve: async () => [{ address: '169.254.169.254', family: 4 }] });
    expect((await failure(open.fetch('https://169.254.169.254/latest/meta-data/'))).reason).toBe('address');
    expect((await failure(open.fetch('https://[::ffff:169.254.169.254]/latest/meta-data/'))).reason).toBe('address');
    expect((await failure(open.fetch('https://metadata.example/computeMetadata/v1/'))).reason).toBe('address');
  });

  it('a private address is refused after DNS, and a name with one private address among public ones too', async () => {
    const only = policy({ resolve: async () => [{ address: '10.0.0.7', family: 4 }] });
    const e = await failure(only.fetch('https://idp.internal.example/.well-known/openid-configuration'));
    expect(e.reason).toBe('address');
    expect(e.message).toContain('private');
    const mixed = policy({ resolve: async () => [{ address: '93.184.215.14', family: 4 }, { address: '192.168.0.10', family: 4 }] });
    expect((await failure(mixed.fetch('https://mixed.example/'))).reason).toBe('address');
  });

  it('loopback is refused unless the policy allows it', async () => {
    const closed = policy({ allowLoopback: false });
    // Plain http is only for loopback, so it fails the URL rule first; https to loopback fails the address rule.
    expect((await failure(closed.fetch(`${base}/doc`))).reason).toBe('url');
    expect((await failure(closed.fetch(`https://127.0.0.1:${port}/doc`))).reason).toBe('address');
    expect(hits.get('/doc') ?? 0).toBe(0);
  });

  it('DNS rebinding: the socket connects to the address that was checked, and the name is resolved once', async () => {
    let lookups = 0;
    // A hostile resolver: a permitted address first, then an internal one for any later lookup.
    const rebinding = policy({ resolve: async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.1', family: 4 }]) });
    const res = await rebinding.fetch(`http://rebind.localhost:${port}/doc`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(lookups).toBe(1);
  });
});

describe('the https rule', () => {
  it.each([
    ['https://login.example.com/x', true, undefined],
    ['http://login.example.com/x', true, 'not https (plain http only to a loopback host)'],
    ['http://127.0.0.1:8080/x', true, undefined],
    ['http://localhost/x', true, undefined],
    ['http://[::1]/x', true, undefined],
    ['http://127.0.0.1/x', false, 'not https'],
    ['https://user:pw@login.example.com/', true, 'credentials in the URL'],
    ['ftp://login.example.com/', true, 'not https (plain http only to a loopback host)'],
    ['not a url', true, 'not a URL'],
  ])('%s (loopback allowed: %s) → %s', (url, allowLoopback, problem) => {
    expect(urlProblem(url, allowLoopback)).toBe(problem);
  });
});

describe('bounds', () => {
  it('a redirect is not followed', async () => {
    const before = hits.get('/doc') ?? 0;
    const e = await failure(policy().fetch(`${base}/redirect`));
    expect(e.reason).toBe('redirect');
    expect(hits.get('/doc') ?? 0).toBe(before);
  });

  it('a body larger than the cap is refused while streaming, without reading the rest', async () => {
    const e = await failure(policy({ maxBytes: 64 * 1024 }).fetch(`${base}/endless`));
    expect(e.reason).toBe('too-large');
    const declared = await failure(policy().fetch(`${base}/declared-huge`));
    expect(declared.reason).toBe('too-large');
    expect(declared.message).toContain(String(400 * 1024 * 1024));
  });

  it('a server that never answers meets the deadline', async () => {
    const e = await failure(policy({ timeoutMs: 300 }).fetch(`${base}/silent`));
    expect(e.reason).toBe('timeout');
  });

  it('POST bodies (as oauth4webapi sends them) arrive as sent', async () => {
    const res = await policy().fetch(`${base}/echo`, { method: 'POST', headers: { accept: 'application/json' }, body: new URLSearchParams({ grant_type: 'authorization_code', code: 'a b' }) });
    expect(await res.json()).toEqual({ method: 'POST', type: 'application/x-www-form-urlencoded;charset=UTF-8', body: 'grant_type=authorization_code&code=a+b' });
  });
});

describe('document cache', () => {
  it('a failure is cached: callers in the window get it again without a second fetch', async () => {
    const outbound = policy({ failureTtlMs: 60_000 });
    const first = await failure(outbound.document(`${base}/fail`, (x) => x, 60_000));
    expect(first.reason).toBe('status');
    const again = await Promise.all([1, 2, 3].map(() => failure(outbound.document(`${base}/fail`, (x) => x, 60_000))));
    expect(again.every((e) => e === first)).toBe(true);
    expect(hits.get('/fail')).toBe(1);
  });

  it('a rejected document (parse throws) is a cached failure too; concurrent callers share one fetch', async () => {
    const outbound = policy();
    const before = hits.get('/doc') ?? 0;
    const results = await Promise.allSettled([1, 2, 3].map(() => outbound.document(`${base}/doc`, () => { throw new Error('unusable'); }, 60_000)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await expect(outbound.document(`${base}/doc`, (x) => x, 60_000)).rejects.toThrow('unusable');
    expect(hits.get('/doc')).toBe(before + 1);
  });

  it('a success is cached for its TTL', async () => {
    const outbound = policy();
    const before = hits.get('/doc') ?? 0;
    expect(await outbound.document(`${base}/doc`, (x) => x, 60_000)).toEqual({ ok: true });
    expect(await outbound.document(`${base}/doc`, (x) => x, 60_000)).toEqual({ ok: true });
    expect(hits.get('/doc')).toBe(before + 1);
  });
});

describe('settings', () => {
  it('loopback: on by default only in embedded mode; private off by default', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({})).toMatchObject({ OUTBOUND_ALLOW_LOOPBACK: true, OUTBOUND_ALLOW_PRIVATE: false, OUTBOUND_TIMEOUT_MS: 10_000, OUTBOUND_MAX_BYTES: 1024 * 1024 });
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', MASTER_KEY: key }).OUTBOUND_ALLOW_LOOPBACK).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', MASTER_KEY: key, OUTBOUND_ALLOW_LOOPBACK: 'true' }).OUTBOUND_ALLOW_LOOPBACK).toBe(true);
  });
});
