/**
 * Webhook delivery across real processes (issue #13 item 8): `node src/server.ts` instances on one database of their
 * own, delivering through pg-boss to a receiver on loopback. Two instances deliver every event once, in feed order;
 * `kill -9` of the instance that is delivering loses nothing (the event in flight arrives again, with the same
 * `webhook-id`); a receiver that is down and comes back gets every event, in order.
 *
 * Timings are shortened by settings, never by test-only code: WEBHOOK_RETRY_DELAY_SECONDS=1 and
 * JOBS_SUPERVISE_INTERVAL_SECONDS=1 (a dead worker's job is retried once its 10-second heartbeat lapses).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../support/global-setup.ts';

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
  port: number;
}

const SERVER = path.resolve('src/server.ts');
const procs: Proc[] = [];
const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
const dbName = `iam_webhooks_${randomBytes(4).toString('hex')}`;
const clientSecret = randomBytes(32).toString('base64url');
let common: Record<string, string>;

interface Arrival {
  id: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}
let arrivals: Arrival[] = [];
/** How the receiver answers an arrival; 'hold' never answers. */
let answer: (a: Arrival) => number | 'hold' = () => 200;
let receiver: http.Server;
let receiverUrl: string;

async function start(extra: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...common, PORT: String(port), ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const p = { child, out: () => out, exited, port };
  procs.push(p);
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return p;
    } catch {}
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`not ready: ${out}`);
}

async function token(p: Proc): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.port}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`bootstrap:${clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=iam/',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function call(p: Proc, method: string, url: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${p.port}${url}`, {
    method,
    headers: { authorization: `Bearer ${await token(p)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

async function createUsers(ps: Proc[], n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await call(ps[i % ps.length]!, 'POST', '/api/users', { email: `${tag}-${i}-${randomBytes(3).toString('hex')}@example.com` });
    expect(res.status, res.text).toBe(201);
    ids.push(res.json.id);
  }
  return ids;
}

/** The feed's user.created events, in feed order (ids of the events and of their users). */
async function feed(p: Proc): Promise<{ id: string; userId: string }[]> {
  const out: { id: string; userId: string }[] = [];
  let after: string | undefined;
  for (;;) {
    const res = await call(p, 'GET', `/api/events?types=user.created&limit=500${after ? `&after=${after}` : ''}`);
    expect(res.status).toBe(200);
    out.push(...res.json.items.map((e: { id: string; data: { id: string } }) => ({ id: e.id, userId: e.data.id })));
    if (!res.json.hasMore) return out;
    after = res.json.nextCursor;
  }
}

/**
 * The feed once it holds `count` events. Events are readable only below the oldest running transaction (ADR 0011),
 * and other test files' transactions run on the same PostgreSQL: a commit can be held back for a moment.
 */
async function feedOf(p: Proc, count: number): Promise<{ id: string; userId: string }[]> {
  const t0 = Date.now();
  for (;;) {
    const events = await feed(p);
    if (events.length >= count || Date.now() - t0 > 30_000) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until(cond: () => boolean, ms: number, what: string) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Distinct webhook-ids in order of first arrival. */
const firstArrivals = () => [...new Set(arrivals.map((a) => a.id))];

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(inject('adminDatabaseUrl'));
  url.pathname = `/${dbName}`;
  common = {
    DATABASE_URL: url.toString(),
    MASTER_KEY: inject('masterKey'),
    PUBLIC_URL: 'http://iam.test',
    BOOTSTRAP_CLIENT_ID: 'bootstrap',
    BOOTSTRAP_CLIENT_SECRET: clientSecret,
    OUTBOUND_ALLOW_LOOPBACK: 'true',
    WEBHOOK_RETRY_DELAY_SECONDS: '1',
    JOBS_SUPERVISE_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'warn',
  };
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const arrival = { id: String(req.headers['webhook-id']), body: Buffer.concat(chunks).toString('utf8'), headers: req.headers };
      arrivals.push(arrival);
      const status = answer(arrival);
      if (status !== 'hold') res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
});

describe('webhook delivery by real instances', () => {
  it('two instances deliver every event once, in feed order; kill -9 of the delivering one loses none; a receiver down and back gets them all, in order', async () => {
    const a = await start();
    const b = await start();
    const hook = await call(a, 'POST', '/api/webhooks', { url: receiverUrl, eventTypes: ['user.created'] });
    expect(hook.status, hook.text).toBe(201);
    const secret: string = hook.json.secret;

    // 1. Two instances, writes on both: every event once, in feed order, each signature valid.
    await createUsers([a, b], 60, 'two');
    let expected = await feedOf(a, 60);
    expect(expected).toHaveLength(60);
    await until(() => arrivals.length >= 60, 30_000, '60 deliveries');
    // Anything still in flight would show up as a duplicate: give it a moment.
    await new Promise((r) => setTimeout(r, 1000));
    expect(arrivals.map((x) => x.id)).toEqual(expected.map((e) => e.id));
    for (const x of arrivals) expect(new Webhook(secret).verify(x.body, { 'webhook-id': x.id, 'webhook-timestamp': String(x.headers['webhook-timestamp']), 'webhook-signature': String(x.headers['webhook-signature']) })).toBeTruthy();
    const log = await call(a, 'GET', `/api/webhooks/${hook.json.id}/deliveries?limit=200`);
    expect(log.json.items).toHaveLength(60);

    // 2. kill -9 of the instance that is delivering: b stops cleanly first, so a is the one; the receiver holds the
    //    third new event, a is killed while waiting for its answer, and a fresh instance takes over.
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    arrivals = [];
    let held: string | undefined;
    answer = (x) => {
      if (held === undefined && arrivals.length === 3) held = x.id;
      return x.id === held && arrivals.filter((y) => y.id === held).length === 1 ? 'hold' : 200;
    };
    await createUsers([a], 8, 'kill');
    await until(() => held !== undefined, 30_000, 'the third delivery');
    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const c = await start();
    expected = (await feedOf(c, 68)).slice(60);
    expect(expected).toHaveLength(8);
    await until(() => firstArrivals().length >= 8 && arrivals.filter((x) => x.id === held).length >= 2, 60_000, 'the rest after the restart');
    await new Promise((r) => setTimeout(r, 1000));
    // None lost, order kept; the one in flight came twice, with the same webhook-id (the receiver's dedup key).
    expect(firstArrivals()).toEqual(expected.map((e) => e.id));
    expect(held).toBe(expected[2]!.id);
    const counts = new Map<string, number>();
    for (const x of arrivals) counts.set(x.id, (counts.get(x.id) ?? 0) + 1);
    expect([...counts.entries()].filter(([, n]) => n > 1).map(([id]) => id)).toEqual([held]);
    const after = arrivals.slice(arrivals.findIndex((x) => x.id === held) + 1).map((x) => x.id);
    expect(after).toEqual(expected.slice(2).map((e) => e.id));

    // 3. The receiver is down (503) for a while, then back: every event, in order, the next ones waiting meanwhile.
    arrivals = [];
    let down = true;
    answer = () => (down ? 503 : 200);
    await createUsers([c], 5, 'down');
    expected = (await feedOf(c, 73)).slice(68);
    await until(() => arrivals.length >= 3, 30_000, 'retries while down');
    // While down, only the first event is tried (again and again): the others wait behind it.
    expect(new Set(arrivals.map((x) => x.id))).toEqual(new Set([expected[0]!.id]));
    down = false;
    await until(() => firstArrivals().length >= 5, 60_000, 'the backlog after the receiver came back');
    expect(firstArrivals()).toEqual(expected.map((e) => e.id));
    const status = await call(c, 'GET', `/api/webhooks/${hook.json.id}`);
    expect(status.json).toMatchObject({ enabled: true, failingSince: null });
  }, 150_000);
});
