/**
 * Upstream sign-in fetches through the bounded fetcher: an anonymous `GET /login/upstream/{type}/{id}` cannot make
 * the server fetch without bounds, in a loop, or anywhere a document points. A plain loopback server plays the
 * provider's discovery endpoint and counts what it is asked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';

let server: http.Server;
let base: string;
const hits = new Map<string, number>();
let env: TestEnv;
let api: Api;

const metadata = (over: Record<string, unknown> = {}) => ({
  issuer: base,
  authorization_endpoint: `${base}/authorize`,
  token_endpoint: `${base}/token`,
  jwks_uri: `${base}/jwks`,
  ...over,
});

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/good/.well-known/openid-configuration') return json(metadata());
    if (path === '/down/.well-known/openid-configuration') return res.writeHead(503).end();
    if (path === '/moved/.well-known/openid-configuration') return res.writeHead(302, { location: '/good/.well-known/openid-configuration' }).end();
    if (path === '/internal-token/.well-known/openid-configuration') return json(metadata({ token_endpoint: 'http://10.0.0.5/token' }));
    if (path === '/plain-jwks/.well-known/openid-configuration') return json(metadata({ jwks_uri: 'http://idp.example.com/jwks' }));
    if (path === '/huge/.well-known/openid-configuration') {
      // The 400 MB document of issue #9, sent without end: the fetcher must stop reading at its cap.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"issuer":"');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      return pump();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = await testEnv({ OUTBOUND_MAX_BYTES: String(256 * 1024) });
  api = await apiFor(env, await env.newTenant());
});
afterAll(async () => {
  await env.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const google = (discoveryUrl: string) => ({ displayName: 'Google', clientId: 'client-google', clientSecret: 'google-secret-0123456789', trustAllUsers: false, defaultUserRoles: [], discoveryUrl });

async function configure(id: string, name: string): Promise<string> {
  const path = `/${name}/.well-known/openid-configuration`;
  const res = await api.call('PUT', `/api/upstream/Google/${id}`, google(`${base}${path}`));
  expect(res.statusCode, res.body).toBe(201);
  return path;
}

const start = (e: TestEnv, host: string, id: string) => e.app.inject({ method: 'GET', url: `/login/upstream/Google/${id}`, headers: { host } });

describe('discovery through the bounded fetcher', () => {
  it('a working provider still starts sign-in (303 to its authorization endpoint), fetched once for many starts', async () => {
    const path = await configure('good', 'good');
    for (let i = 0; i < 3; i++) {
      const res = await start(env, api.tenant.host, 'good');
      expect(res.statusCode, res.body).toBe(303);
      expect(res.headers.location).toMatch(new RegExp(`^${base}/authorize\\?`));
    }
    expect(hits.get(path)).toBe(1);
  });

  it('a failed discovery is cached: a second anonymous start within the window does not fetch again', async () => {
    const path = await configure('down', 'down');
    const first = await start(env, api.tenant.host, 'down');
    expect(first.statusCode).toBe(502);
    expect(first.body).toContain('cannot be reached');
    const second = await start(env, api.tenant.host, 'down');
    expect(second.statusCode).toBe(502);
    expect(hits.get(path)).toBe(1);
  });

  it('a redirect from the discovery URL is not followed', async () => {
    await configure('moved', 'moved');
    const before = hits.get('/good/.well-known/openid-configuration') ?? 0;
    expect((await start(env, api.tenant.host, 'moved')).statusCode).toBe(502);
    expect(hits.get('/good/.well-known/openid-configuration') ?? 0).toBe(before);
  });

  it('a document larger than the cap is refused (the server stops reading it)', async () => {
    await configure('huge', 'huge');
    const res = await start(env, api.tenant.host, 'huge');
    expect(res.statusCode).toBe(502);
    expect(env.logs.join('')).toContain(`more than the ${256 * 1024} bytes allowed`);
  });

  it('token_endpoint or jwks_uri breaking the https rule: the document is refused, so the client secret goes nowhere', async () => {
    const internal = await configure('internal', 'internal-token');
    const plain = await configure('plain', 'plain-jwks');
    for (const id of ['internal', 'plain']) {
      const res = await start(env, api.tenant.host, id);
      expect(res.statusCode).toBe(502);
      expect(res.body).toContain('misconfigured');
    }
    const log = env.logs.join('');
    expect(log).toContain('token_endpoint refused: not https');
    expect(log).toContain('jwks_uri refused: not https');
    // The refusal is cached like any failure.
    await start(env, api.tenant.host, 'internal');
    expect([hits.get(internal), hits.get(plain)]).toEqual([1, 1]);
  });

  it('without OUTBOUND_ALLOW_LOOPBACK the same loopback provider is never fetched', async () => {
    const closed = await testEnv({ OUTBOUND_ALLOW_LOOPBACK: 'false' });
    try {
      const t = await closed.newTenant();
      const a = await apiFor(closed, t);
      const path = '/good/.well-known/openid-configuration';
      const before = hits.get(path) ?? 0;
      expect((await a.call('PUT', '/api/upstream/Google/local', google(`${base}${path}`))).statusCode).toBe(201);
      expect((await start(closed, t.host, 'local')).statusCode).toBe(502);
      expect(hits.get(path) ?? 0).toBe(before);
    } finally {
      await closed.close();
    }
  });
});

describe('discoveryUrl at write time', () => {
  it.each([
    'https://169.254.169.254/latest/meta-data/',
    'https://[::ffff:169.254.169.254]/latest/meta-data/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://10.0.0.5/.well-known/openid-configuration',
    'https://[fe80::1]/.well-known/openid-configuration',
    'https://0.0.0.0/.well-known/openid-configuration',
    'http://idp.example.com/.well-known/openid-configuration',
  ])('%s is refused with 400', async (discoveryUrl) => {
    const res = await api.call('PUT', '/api/upstream/Google/refused', google(discoveryUrl));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().errors?.[0]?.path).toBe('/discoveryUrl');
  });
});
