/**
 * OpenTelemetry traces (src/platform/tracing.ts) from the real process: `node src/server.ts` with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at a loopback OTLP/HTTP receiver (JSON, https://opentelemetry.io/docs/specs/otlp/#otlphttp).
 * The instrumentations patch node:http and pg as they load, which only the process's own start order shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freePort } from '../support/global-setup.ts';
import { startTracing } from '../../src/platform/tracing.ts';
import { loadConfig } from '../../src/platform/config.ts';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

/** OTLP SpanKind: SERVER = 2 (https://opentelemetry.io/docs/specs/otlp/ trace.proto). */
const SERVER = 2;

const bodies: string[] = [];
const contentTypes: string[] = [];
let receiver: http.Server;
let receiverUrl: string;
let child: ChildProcess | undefined;
let out = '';
let admin: pg.Client;
const dbName = `iam_otel_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        bodies.push(body);
        contentTypes.push(String(req.headers['content-type']));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // A database of its own: the server runs migrations, bootstrap and the job schedules in it.
  admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await new Promise((r) => receiver.close(r));
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
});

const spans = () => bodies.flatMap((b) => (JSON.parse(b) as OtlpRequest).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, scope: ss.scope.name, resource: rs.resource })))));
const attr = (s: { attributes?: { key: string; value: OtlpValue }[] }, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited: ${out.slice(-3000)}`);
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen in ${ms} ms; server output: ${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a token request arrives as an HTTP server span with its route, with the PostgreSQL query spans in the same trace', async () => {
  const port = await freePort();
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${dbName}`;
  child = spawn(process.execPath, [path.resolve('src/server.ts')], {
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: url.toString(),
      MASTER_KEY: inject('masterKey'),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
      OTEL_SERVICE_NAME: 'iam-under-test',
      // Export every 100 ms instead of every 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  await until('readiness', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200 || undefined);
  const secret = /client_secret:\s+(\S+)/.exec(out)![1]!;

  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`bootstrap:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=iam/',
  });
  expect(res.status).toBe(200);
  const { access_token: accessToken } = (await res.json()) as { access_token: string };

  // A query string's values (here an authorization request's state and PKCE challenge) never reach the collector.
  const state = randomBytes(12).toString('hex');
  const challenge = randomBytes(32).toString('base64url');
  await fetch(`${base}/oauth2/authorize?response_type=code&client_id=nobody&state=${state}&code_challenge=${challenge}&code_challenge_method=S256`, { redirect: 'manual' });

  const server = await until('the token request span', () =>
    spans().find((s) => s.kind === SERVER && attr(s, 'http.route') === '/oauth2/token' && (attr(s, 'http.response.status_code') ?? attr(s, 'http.status_code')) === 200),
  );
  expect(server.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('iam-under-test');
  const inTrace = await until('a database span in the same trace', () => {
    const db = spans().filter((s) => s.traceId === server.traceId && (attr(s, 'db.system') ?? attr(s, 'db.system.name')) === 'postgresql');
    return db.length ? db : undefined;
  });
  // Queries carry their SQL with placeholders only, never the values bound to them.
  const statement = inTrace.map((s) => String(attr(s, 'db.statement') ?? attr(s, 'db.query.text') ?? '')).join('\n');
  expect(statement).toMatch(/select/i);
  // Fastify's own spans (@fastify/otel) sit in the same trace.
  expect(spans().some((s) => s.traceId === server.traceId && s.scope === '@fastify/otel')).toBe(true);
  expect(contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);
  // Probes are not traced, and nothing exported holds the secret or the token issued.
  expect(spans().some((s) => String(attr(s, 'url.path') ?? attr(s, 'http.target') ?? attr(s, 'http.route')).startsWith('/readyz'))).toBe(false);
  const authorize = await until('the authorization request span', () => spans().find((s) => s.kind === SERVER && attr(s, 'url.path') === '/oauth2/authorize'));
  expect(attr(authorize, 'url.query')).toBe('response_type=REDACTED&client_id=REDACTED&state=REDACTED&code_challenge=REDACTED&code_challenge_method=REDACTED');
  const exported = bodies.join('\n');
  expect(exported).not.toContain(state);
  expect(exported).not.toContain(challenge);
  expect(exported).not.toContain(secret);
  expect(exported).not.toContain(accessToken);

  child.kill('SIGTERM');
  expect(await exited, out.slice(-3000)).toBe(0);
}, 90_000);

it('off unless OTEL_EXPORTER_OTLP_ENDPOINT is an http(s) URL', () => {
  for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: '' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'file:///etc/passwd' }]) {
    expect(startTracing(env)).toBeUndefined();
  }
  // The server's configuration reports a malformed endpoint with one line instead of starting without traces.
  expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT: /);
  expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://127.0.0.1:4318');
});
