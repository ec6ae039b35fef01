/**
 * Prometheus metrics at GET /metrics (src/platform/metrics.ts): bearer-protected, counters that move with the traffic
 * they count, bounded labels that never carry a tenant's data, and one registry per app.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';
import { openDatabase, forTenant, type Database } from '../../src/platform/db.ts';
import { keyring } from '../../src/platform/crypto.ts';
import { loggerOptions } from '../../src/platform/logging.ts';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { testConfig, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { email } from '../support/api.ts';
import { scimClient, type ScimClient } from '../scim/support.ts';
import { Browser, listeningEnv } from '../support/oauth.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { startUpstreamIdp } from '../support/upstream-idp.ts';
import * as oidc from 'openid-client';

const TOKEN = randomBytes(32).toString('base64url');
const PASSWORD = 'correct horse battery staple';

let env: TestEnv;
let app: FastifyInstance;
let database: Database;
let a: TestTenant;
let b: TestTenant;
let scim: ScimClient;

beforeAll(async () => {
  env = await testEnv({ METRICS_TOKEN: TOKEN });
  ({ app, database } = env);
  a = await env.newTenant();
  b = await env.newTenant();
  scim = await scimClient(env, a);
});
afterAll(() => env.close());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format, https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(res.body);
}

/** The sample of `name` whose labels include `labels` (0 when there is none yet). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value ?? 0;
}

function tokenRequest(t: TestTenant, secret = t.clientSecret) {
  return app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: t.host, authorization: 'Basic ' + Buffer.from(`${t.clientId}:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials&scope=iam/',
  });
}

describe('GET /metrics is protected by METRICS_TOKEN (RFC 6750 §2.1 bearer)', () => {
  it('401 with a Bearer challenge without a token, with a wrong one, with one of another length, or over Basic', async () => {
    const wrong = [undefined, `Bearer ${'x'.repeat(TOKEN.length)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, TOKEN, `Bearer ${TOKEN} ${TOKEN}`];
    for (const authorization of wrong) {
      const res = await app.inject({ url: '/metrics', headers: authorization === undefined ? {} : { authorization } });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(res.body).not.toContain('iam_');
    }
  });

  it('answers on any Host, outside tenancy (a scraper has no tenant), and the scheme name is case-insensitive', async () => {
    for (const host of ['unknown.invalid', a.host]) {
      const res = await app.inject({ url: '/metrics', headers: { host, authorization: `bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('without METRICS_TOKEN there is no /metrics at all', async () => {
    const env = await testEnv();
    try {
      const res = await env.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(404);
    } finally {
      await env.close();
    }
  });

  it('METRICS_TOKEN must be at least 32 printable characters; a bad one is reported without echoing it', () => {
    for (const bad of ['short', 'x'.repeat(31), `${'x'.repeat(32)} with space`]) {
      let err: unknown;
      try {
        loadConfig({ METRICS_TOKEN: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^Invalid configuration: METRICS_TOKEN: .*\(got "\[redacted\]"\)$/);
    }
    expect(loadConfig({ METRICS_TOKEN: 'x'.repeat(32) }).METRICS_TOKEN).toBe('x'.repeat(32));
  });
});

describe('counters move with the traffic they count', () => {
  it('a token request: iam_tokens_issued_total by grant and client type, and the HTTP counter and histogram by route template', async () => {
    const before = await scrape();
    expect((await tokenRequest(a)).statusCode).toBe(200);
    // A refused request is no issuance, but it is an HTTP request.
    expect((await tokenRequest(a, 'not-the-secret')).statusCode).toBe(401);
    const after = await scrape();
    const issued = { grant_type: 'client_credentials', client_type: 'MachineClient' };
    expect(value(before, 'iam_tokens_issued_total', issued) + 1).toBe(value(after, 'iam_tokens_issued_total', issued));
    // Known combinations are exported at zero before their first increment.
    expect(before.some((s) => s.name === 'iam_tokens_issued_total' && s.labels.grant_type === 'refresh_token' && s.labels.client_type === 'InteractiveApplication')).toBe(true);
    for (const status of ['200', '401']) {
      const labels = { method: 'POST', route: '/oauth2/token', status };
      expect(value(after, 'iam_http_requests_total', labels) - value(before, 'iam_http_requests_total', labels)).toBe(1);
      expect(value(after, 'iam_http_request_duration_seconds_count', labels) - value(before, 'iam_http_request_duration_seconds_count', labels)).toBe(1);
      expect(value(after, 'iam_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(value(after, 'iam_http_request_duration_seconds_count', labels));
    }
  });

  it('SCIM requests: iam_scim_operations_total by resource, method and status; refusals count too', async () => {
    const before = await scrape();
    expect((await scim.call('GET', '/Users')).statusCode).toBe(200);
    const created = await scim.call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email('scim') });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect((await scim.call('GET', `/Users/${id}`)).statusCode).toBe(200);
    expect((await scim.call('GET', '/Groups', undefined, { authorization: 'Bearer nope' })).statusCode).toBe(401);
    expect((await scim.call('GET', '/?filter=userName%20pr')).statusCode).toBe(200);
    const after = await scrape();
    const delta = (labels: Record<string, string>) => value(after, 'iam_scim_operations_total', labels) - value(before, 'iam_scim_operations_total', labels);
    expect(delta({ resource: 'Users', method: 'GET', status: '200' })).toBe(2);
    expect(delta({ resource: 'Users', method: 'POST', status: '201' })).toBe(1);
    expect(delta({ resource: 'Groups', method: 'GET', status: '401' })).toBe(1);
    expect(delta({ resource: 'root', method: 'GET', status: '200' })).toBe(1);
    // The HTTP counter keeps the template, not the id.
    expect(value(after, 'iam_http_requests_total', { method: 'GET', route: '/scim/v2/Users/:id', status: '200' }) - value(before, 'iam_http_requests_total', { method: 'GET', route: '/scim/v2/Users/:id', status: '200' })).toBe(1);
    expect(JSON.stringify(after)).not.toContain(id);
  });

  it('password sign-ins: iam_signins_total by provider type and outcome', async () => {
    const login = email('metrics');
    await createUser(forTenant(database.db, b.tenant.id), systemActor('test'), { email: login, password: PASSWORD });
    const signIn = async (password: string) => {
      const page = await app.inject({ url: '/login?return_to=%2F', headers: { host: b.host } });
      const cookie = /(iam_login=[^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
      return app.inject({
        method: 'POST',
        url: '/login',
        headers: { host: b.host, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ return_to: '/', login, password, csrf }).toString(),
      });
    };
    const before = await scrape();
    expect((await signIn('wrong password')).statusCode).toBe(401);
    expect((await signIn(PASSWORD)).statusCode).toBe(303);
    expect((await signIn(PASSWORD)).statusCode).toBe(303);
    const after = await scrape();
    const delta = (outcome: string) => value(after, 'iam_signins_total', { provider_type: 'password', outcome }) - value(before, 'iam_signins_total', { provider_type: 'password', outcome });
    expect(delta('failure')).toBe(1);
    expect(delta('success')).toBe(2);
    for (const provider_type of ['AzureAd', 'Google', 'Auth0', 'oidc_connection', 'saml_connection']) {
      expect(after.some((s) => s.name === 'iam_signins_total' && s.labels.provider_type === provider_type)).toBe(true);
    }
  });

  it('an upstream sign-in (Google) and the authorization_code grant it leads to: by provider type, and by grant and client type', async () => {
    const own = await listeningEnv({ METRICS_TOKEN: TOKEN });
    const google = await startUpstreamIdp({ kind: 'google', redirectUris: [`${own.base}/signin-googlegws`] });
    try {
      const admin = await bootstrapTokenHttp(own.base, own.tenant);
      const put = (path: string, body: unknown) =>
        fetch(own.base + path, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await put('/api/upstream/Google/gws', { displayName: 'Google Workspace', clientId: google.clientId, clientSecret: google.clientSecret, hostedDomain: 'fabrikam.com', trustAllUsers: true, defaultUserRoles: [], discoveryUrl: google.discoveryUrl, domains: ['fabrikam.com'] })).status).toBeLessThan(300);
      const appRedirect = 'https://backoffice.example.com/signin-oidc';
      expect((await put('/api/downstream/InteractiveApplication/backoffice', { displayName: 'Back office', allowedScopes: ['openid', 'email'], redirectUris: [appRedirect], clientSecret: 'b'.repeat(40) })).status).toBeLessThan(300);
      const ownScrape = async () => parse(await (await fetch(`${own.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
      const before = await ownScrape();

      // Outside the hosted domain: a failure.
      google.nextLogin({ sub: 'g-out', email: 'someone@gmail.com', email_verified: true });
      expect((await new Browser().follow(`${own.base}/login/upstream/Google/gws?return_to=/`, (u) => u.startsWith('https://'))).res.status).toBe(400);
      // A downstream application's sign-in through Google, then its code for tokens.
      const config = await oidc.discovery(new URL(own.base), 'backoffice', 'b'.repeat(40), undefined, { execute: [oidc.allowInsecureRequests] });
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: appRedirect, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'st', login_hint: 'new@fabrikam.com' });
      google.nextLogin({ sub: 'g-in', email: 'new@fabrikam.com', email_verified: true, hd: 'fabrikam.com' });
      const done = await new Browser().follow(url.toString(), (u) => u.startsWith(appRedirect));
      expect(done.url.startsWith(appRedirect), done.url).toBe(true);
      await oidc.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: 'st' });

      const after = await ownScrape();
      const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
      expect(delta('iam_signins_total', { provider_type: 'Google', outcome: 'failure' })).toBe(1);
      expect(delta('iam_signins_total', { provider_type: 'Google', outcome: 'success' })).toBe(1);
      expect(delta('iam_tokens_issued_total', { grant_type: 'authorization_code', client_type: 'InteractiveApplication' })).toBe(1);
      // The provider's id (`gws`) is tenant data: it is in no label.
      expect(after.flatMap((s) => Object.values(s.labels)).filter((v) => v.includes('gws'))).toEqual([]);
    } finally {
      await google.close();
      await own.close();
    }
  });

  it('pg-boss queue depth per queue and state', async () => {
    // An app of its own: pg-boss caches the counts for up to a minute after the first read, so this app's first
    // scrape must come after the sends.
    const queue = `metrics-depth-${randomBytes(4).toString('hex')}`;
    const own = await testEnv({ METRICS_TOKEN: TOKEN }, { beforeReady: (built) => built.services.jobs.define({ name: queue, handler: async () => {}, retry: { limit: 0, delaySeconds: 1, backoff: false } }) });
    try {
      const scope = forTenant(own.database.db, a.tenant.id);
      await own.app.services.jobs.send(scope, queue, { n: 1 });
      await own.app.services.jobs.send(scope, queue, { n: 2 });
      await own.app.services.jobs.send(scope, queue, { n: 3 }, { startAfter: new Date(Date.now() + 3_600_000) });
      const samples = parse((await own.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).body);
      expect(value(samples, 'iam_jobs_queue_depth', { queue, state: 'ready' })).toBe(2);
      expect(value(samples, 'iam_jobs_queue_depth', { queue, state: 'deferred' })).toBe(1);
      expect(value(samples, 'iam_jobs_queue_depth', { queue, state: 'active' })).toBe(0);
      expect(value(samples, 'iam_jobs_queue_depth', { queue, state: 'failed' })).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('database pools (pg Pool counters) and the event-loop delay (prom-client default metrics)', async () => {
    const samples = await scrape();
    for (const pool of ['app', 'global']) {
      for (const name of ['iam_db_pool_connections', 'iam_db_pool_idle_connections', 'iam_db_pool_waiting_clients']) {
        expect(samples.some((s) => s.name === name && s.labels.pool === pool), `${name}{pool="${pool}"}`).toBe(true);
      }
    }
    // Requests above used the service pool: it holds at least one connection, never more than its size (5 here).
    const open = value(samples, 'iam_db_pool_connections', { pool: 'app' });
    expect(open).toBeGreaterThanOrEqual(1);
    expect(open).toBeLessThanOrEqual(5);
    expect(value(samples, 'iam_db_pool_idle_connections', { pool: 'app' })).toBeLessThanOrEqual(open);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
  });
});

describe('label cardinality is bounded: no tenant data in any label', () => {
  it('after traffic in two tenants, with ids in URLs and unknown paths, no label value holds an id, host, slug or URL', async () => {
    const userId = randomUUID();
    const junk = randomBytes(8).toString('hex');
    const api = (t: TestTenant, url: string) => app.inject({ url, headers: { host: t.host } });
    for (const t of [a, b]) {
      expect((await tokenRequest(t)).statusCode).toBe(200);
      expect((await api(t, `/api/users/${userId}`)).statusCode).toBe(401);
      expect((await api(t, `/nothing-here/${junk}?q=${junk}`)).statusCode).toBe(404);
    }
    expect((await app.inject({ url: `/${junk}`, headers: { host: `${junk}.invalid` } })).statusCode).toBe(404);
    const samples = await scrape();
    const labelValues = new Set(samples.flatMap((s) => Object.values(s.labels)));
    const secretish = [a.tenant.id, b.tenant.id, a.tenant.slug, b.tenant.slug, a.host, b.host, a.clientId, userId, junk, 'provisioner', a.tenant.issuer];
    for (const v of labelValues) {
      for (const s of secretish) expect(v, `label value ${v}`).not.toContain(s);
    }
    expect(value(samples, 'iam_http_requests_total', { method: 'GET', route: '/api/users/:userId', status: '401' })).toBe(2);
    expect(value(samples, 'iam_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(3);
    // Every route label is a registered template or the one bucket for everything unmatched.
    const routes = new Set(samples.filter((s) => s.name === 'iam_http_requests_total').map((s) => s.labels.route!));
    for (const r of routes) expect(r === 'unmatched' || app.hasRoute({ url: r, method: samples.find((s) => s.labels.route === r)!.labels.method as 'GET' }), r).toBe(true);
  });
});

describe('one registry per app', () => {
  it('two apps in one process count separately and neither throws on registration', async () => {
    const config = testConfig({ METRICS_TOKEN: TOKEN });
    const other = openDatabase(config.DATABASE_URL!, { max: 2 });
    const logger = pino(loggerOptions('silent'), new Writable({ write: (_c, _e, cb) => cb() }));
    const second = await buildApp({ config, database: other, keyring: keyring(Buffer.from(config.MASTER_KEY!, 'base64')), logger });
    try {
      await second.ready();
      const before = value(await scrape(), 'iam_tokens_issued_total', { grant_type: 'client_credentials', client_type: 'MachineClient' });
      const res = await second.inject({
        method: 'POST',
        url: '/oauth2/token',
        headers: { host: a.host, authorization: 'Basic ' + Buffer.from(`${a.clientId}:${a.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials&scope=iam/',
      });
      expect(res.statusCode).toBe(200);
      const theirs = parse((await second.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).body);
      expect(value(theirs, 'iam_tokens_issued_total', { grant_type: 'client_credentials', client_type: 'MachineClient' })).toBe(1);
      expect(value(await scrape(), 'iam_tokens_issued_total', { grant_type: 'client_credentials', client_type: 'MachineClient' })).toBe(before);
    } finally {
      await second.close();
      await other.close();
    }
  });
});
