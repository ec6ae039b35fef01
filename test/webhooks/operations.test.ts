/**
 * Operating webhook endpoints (issue #13 item 6): a test message, one event delivered again, a replay from a cursor,
 * disabling after WEBHOOK_DISABLE_AFTER_SECONDS of failures with `webhook.disabled` in the feed, a replay while a
 * delivery is in flight, and no pile-up of delivery jobs behind one that waits out a retry.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { drain } from '../support/events.ts';
import { DELIVERY_QUEUE, DISPATCH_QUEUE, dispatch, drainEndpoint } from '../../src/webhooks/delivery.ts';
import { forTenant } from '../../src/platform/db.ts';
import { outboundFromConfig } from '../../src/platform/outbound.ts';
import { webhookDeliveries, webhookEndpoints } from '../../src/db/schema/index.ts';
import { pruneDeliveryLogs } from '../../src/webhooks/sweep.global.ts';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

const DISABLE_AFTER = 3600;
let env: TestEnv;
let api: Api;
let other: Api;
let server: http.Server;
let receiverUrl: string;
let received: Received[] = [];
let answer = 200;
/** When set, the receiver holds each request until it resolves. */
let gate: Promise<void> | undefined;

beforeAll(async () => {
  env = await testEnv({ WEBHOOK_DISABLE_AFTER_SECONDS: String(DISABLE_AFTER) });
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (gate) await gate;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(`answer ${answer}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await env.close();
});
beforeEach(() => {
  received = [];
  answer = 200;
  gate = undefined;
});

const scope = () => forTenant(env.database.db, api.tenant.tenant.id);
const deps = () => ({ keyring: env.keys, outbound: outboundFromConfig(env.config), disableAfterSeconds: DISABLE_AFTER });
const typesOf = (rs: Received[]) => rs.map((r) => JSON.parse(r.body).type as string);

/** Runs dispatch and delivery jobs until `expected` requests arrived (the horizon may hold events back a moment). */
async function pump(expected: number) {
  const deadline = Date.now() + 20_000;
  while (received.length < expected && Date.now() < deadline) {
    await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
    const ran = await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
    if (!ran.completed && !ran.failed) await new Promise((r) => setTimeout(r, 25));
  }
}

async function register(body: Record<string, unknown> = {}, a: Api = api) {
  const res = await a.call('POST', '/api/webhooks', { url: receiverUrl, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string; [k: string]: unknown };
}

/** Creates `n` users and waits until the endpoint has been handed all of them; their user.created events. */
async function delivered(hookId: string, n: number) {
  const before = received.length;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await api.call('POST', '/api/users', { email: email('ops') })).json().id);
  await pump(before + n);
  const mine = received.slice(before).map((r) => JSON.parse(r.body));
  expect(mine.map((e) => e.data.id)).toEqual(ids);
  return { events: mine as { id: string; position: string; data: { id: string } }[], bodies: received.slice(before).map((r) => r.body), hookId };
}

const verify = (secret: string, r: Received) =>
  new Webhook(secret).verify(r.body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });

const audit = async (id: string) => (await api.call('GET', `/api/audit?targetType=webhook&targetId=${id}`)).json().items as { action: string; after: Record<string, unknown>; before: Record<string, unknown> }[];

describe('POST /api/webhooks/{id}/test', () => {
  it('sends a signed webhook.test message now, enabled or not; not in the feed, the cursor stays; logged as trigger test', async () => {
    const hook = await register({ eventTypes: ['user.created'], enabled: false });
    const cursor = (await api.call('GET', `/api/webhooks/${hook.id}`)).json().cursor;
    const res = await api.call('POST', `/api/webhooks/${hook.id}/test`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ trigger: 'test', outcome: 'succeeded', responseStatus: 200, eventType: 'webhook.test', attempt: 1 });
    expect(received).toHaveLength(1);
    const message = verify(hook.secret, received[0]!) as { id: string; type: string; position: unknown; data: { webhookId: string } };
    expect(message).toMatchObject({ type: 'webhook.test', position: null, data: { webhookId: hook.id } });
    expect(received[0]!.headers['webhook-id']).toBe(message.id);
    expect(res.json().eventId).toBe(message.id);
    expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json().cursor).toBe(cursor);
    expect((await drain(api, null, { types: 'webhook.*' })).items.filter((e) => e.id === message.id)).toEqual([]);
    const log = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    expect(log.map((d: { trigger: string }) => d.trigger)).toEqual(['test']);
  });

  it('a receiver that answers 500 is a 200 here with outcome failed; another tenant\'s endpoint is 404; no iam/ scope is 403', async () => {
    const hook = await register();
    answer = 500;
    const res = await api.call('POST', `/api/webhooks/${hook.id}/test`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ outcome: 'failed', responseStatus: 500, responseExcerpt: 'answer 500' });
    // A test does not start a failing streak: it is not a delivery.
    expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json().failingSince).toBeNull();
    expect((await other.call('POST', `/api/webhooks/${hook.id}/test`)).statusCode).toBe(404);
    expect((await api.call('POST', '/api/webhooks/not-a-uuid/test')).statusCode).toBe(400);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});

describe('POST /api/webhooks/{id}/redeliver', () => {
  it('delivers one event again: the same id and the same bytes, signed anew; logged as redelivery and audited', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    const { events, bodies } = await delivered(hook.id, 2);
    received = [];
    const res = await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: events[0]!.id });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ trigger: 'redelivery', outcome: 'succeeded', eventId: events[0]!.id });
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toBe(bodies[0]);
    expect(received[0]!.headers['webhook-id']).toBe(events[0]!.id);
    expect(verify(hook.secret, received[0]!)).toBeTruthy();
    expect((await audit(hook.id))[0]).toMatchObject({ action: 'webhook.redeliver', after: { eventId: events[0]!.id, outcome: 'succeeded' } });
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('refuses what would break order or filters: an event not handed yet 409, another type 400, unknown or another tenant\'s 404', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    await delivered(hook.id, 1);
    // Disabled, then a new event: it is after the cursor, so it has not been handed to this endpoint.
    await api.call('PATCH', `/api/webhooks/${hook.id}`, { enabled: false });
    const user = (await api.call('POST', '/api/users', { email: email('later') })).json();
    const feed = (await drain(api, null, { types: 'user.*' })).items;
    const ahead = feed.find((e) => e.type === 'user.created' && e.data.id === user.id)!;
    expect((await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: ahead.id })).statusCode).toBe(409);
    await api.call('PATCH', `/api/users/${user.id}`, { fullName: 'Renamed' });
    const updated = (await drain(api, null, { types: 'user.updated' })).items.find((e) => e.data.id === user.id)!;
    expect((await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: updated.id })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
    const theirs = await register({}, other);
    expect((await other.call('POST', `/api/webhooks/${theirs.id}/redeliver`, { eventId: feed[0]!.id })).statusCode).toBe(404);
    expect((await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: 'x' })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/webhooks/${hook.id}/redeliver`, { eventId: ahead.id, extra: 1 })).statusCode).toBe(400);
    expect(received.length).toBe(1);
  });
});

describe('POST /api/webhooks/{id}/replay', () => {
  it('moves the cursor back: the events after it arrive again, in feed order, through the queue; audited', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    const { events } = await delivered(hook.id, 3);
    const cursor = (await api.call('GET', `/api/webhooks/${hook.id}`)).json().cursor;
    expect(cursor).toBe(events[2]!.position);
    received = [];
    const res = await api.call('POST', `/api/webhooks/${hook.id}/replay`, { after: events[0]!.position });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().cursor).toBe(events[0]!.position);
    await pump(2);
    expect(received.map((r) => JSON.parse(r.body).id)).toEqual([events[1]!.id, events[2]!.id]);
    expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json().cursor).toBe(events[2]!.position);
    expect((await audit(hook.id))[0]).toMatchObject({ action: 'webhook.replay', before: { cursor }, after: { cursor: events[0]!.position } });
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('never forward (400), never before retention (the feed\'s 410), a malformed cursor 400, another tenant 404', async () => {
    const hook = await register({ eventTypes: ['user.created'], enabled: false });
    // Disabled at once: an event written now is after its cursor.
    await api.call('POST', '/api/users', { email: email('ahead') });
    const ahead = (await drain(api, null, { types: 'user.created' })).items.at(-1)!;
    expect((await api.call('POST', `/api/webhooks/${hook.id}/replay`, { after: ahead.position })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/webhooks/${hook.id}/replay`, { after: 'bm90IGEgY3Vyc29y' })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/webhooks/${hook.id}/replay`, {})).statusCode).toBe(400);
    expect((await other.call('POST', `/api/webhooks/${hook.id}/replay`, { after: null })).statusCode).toBe(404);
    expect((await audit(hook.id)).map((e) => e.action)).toEqual(['webhook.create']);
  });

  it('from null: every matching event kept in the feed, oldest first', async () => {
    const t = await apiFor(env, await env.newTenant());
    const users: string[] = [];
    for (let i = 0; i < 2; i++) users.push((await t.call('POST', '/api/users', { email: email('old') })).json().id);
    const hook = await register({ eventTypes: ['user.created'] }, t);
    const res = await t.call('POST', `/api/webhooks/${hook.id}/replay`, { after: null });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().cursor).toBeNull();
    await pump(2);
    expect(received.map((r) => JSON.parse(r.body).data.id)).toEqual(users);
  });

  it('a replay while a delivery is in flight: the drain does not move the cursor over it, and the replay goes out', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    const { events } = await delivered(hook.id, 2);
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    await api.call('POST', '/api/users', { email: email('inflight') });
    // A drain sends the third event and waits for the held answer.
    const deadline = Date.now() + 20_000;
    const draining = (async () => {
      while (received.length < 3 && Date.now() < deadline) {
        await drainEndpoint(deps(), scope(), hook.id, 1);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received).toHaveLength(3);
    const third = JSON.parse(received[2]!.body).id;
    const replay = await api.call('POST', `/api/webhooks/${hook.id}/replay`, { after: events[0]!.position });
    expect(replay.statusCode, replay.body).toBe(200);
    gate = undefined;
    release();
    await draining;
    // The drain that was in flight found the cursor moved, so it left it where the replay put it.
    expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json().cursor).toBe(events[0]!.position);
    await pump(5);
    expect(received.slice(3).map((r) => JSON.parse(r.body).id)).toEqual([events[1]!.id, third]);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});

describe('disabling after WEBHOOK_DISABLE_AFTER_SECONDS of failures', () => {
  it('a failing streak starts at the first failure and ends at a success', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    answer = 503;
    await api.call('POST', '/api/users', { email: email('streak') });
    await pump(1);
    const failing = (await api.call('GET', `/api/webhooks/${hook.id}`)).json();
    expect(failing).toMatchObject({ enabled: true, failingSince: expect.any(String) });
    answer = 200;
    await drainEndpoint(deps(), scope(), hook.id, 2);
    expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json()).toMatchObject({ enabled: true, failingSince: null });
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('failing for longer than the period: disabled, audited, and webhook.disabled in the feed, delivered to a webhook.* subscriber', async () => {
    const watcherServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        watched.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
      });
    });
    const watched: string[] = [];
    await new Promise<void>((r) => watcherServer.listen(0, '127.0.0.1', r));
    try {
      const watcher = await register({ url: `http://127.0.0.1:${(watcherServer.address() as AddressInfo).port}/w`, eventTypes: ['webhook.*'] });
      const hook = await register({ eventTypes: ['user.created'] });
      answer = 500;
      await api.call('POST', '/api/users', { email: email('dead') });
      await pump(1);
      // The streak began longer ago than the period (rewritten: no clock is waited for).
      await scope().update(webhookEndpoints, { failingSince: new Date(Date.now() - (DISABLE_AFTER + 5) * 1000) }, eq(webhookEndpoints.id, hook.id));
      await drainEndpoint(deps(), scope(), hook.id, 2);
      const got = (await api.call('GET', `/api/webhooks/${hook.id}`)).json();
      expect(got).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/^Deliveries failed for 1 hour \(since /) });
      expect((await audit(hook.id))[0]).toMatchObject({ action: 'webhook.disable', after: { enabled: false, reason: got.disabledReason } });
      const [disabled] = (await drain(api, null, { types: 'webhook.disabled' })).items.filter((e) => e.data.id === hook.id);
      expect(disabled).toMatchObject({ data: { enabled: false, disabledReason: got.disabledReason }, previousAttributes: { enabled: true, disabledReason: null } });
      expect(disabled!.data.secret).toBeUndefined();
      const deadline = Date.now() + 20_000;
      while (!watched.some((b) => JSON.parse(b).id === disabled!.id) && Date.now() < deadline) {
        await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
        await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(watched.map((b) => JSON.parse(b).type)).toEqual(['webhook.disabled']);
      // Enabled again: a fresh start; the old streak does not disable it at the next failure.
      const enabled = (await api.call('PATCH', `/api/webhooks/${hook.id}`, { enabled: true })).json();
      expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
      await expect(drainEndpoint(deps(), scope(), hook.id, 1)).rejects.toThrow(/500/);
      expect((await api.call('GET', `/api/webhooks/${hook.id}`)).json().enabled).toBe(true);
      await api.call('DELETE', `/api/webhooks/${hook.id}`);
      await api.call('DELETE', `/api/webhooks/${watcher.id}`);
    } finally {
      await new Promise((r) => watcherServer.close(r));
    }
  });

  it('WEBHOOK_DISABLE_AFTER_SECONDS is validated at start', async () => {
    for (const bad of ['5', '-1', 'soon', String(31 * 86_400)]) expect(() => loadConfig({ WEBHOOK_DISABLE_AFTER_SECONDS: bad })).toThrow(ConfigError);
    expect(loadConfig({}).WEBHOOK_DISABLE_AFTER_SECONDS).toBe(5 * 86_400);
  });
});

describe('the delivery log', () => {
  it('is pruned after the feed\'s retention, across tenants; younger attempts stay', async () => {
    const hook = await register();
    await api.call('POST', `/api/webhooks/${hook.id}/test`);
    await api.call('POST', `/api/webhooks/${hook.id}/test`);
    const [old] = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    await scope().update(webhookDeliveries, { attemptedAt: new Date(Date.now() - 31 * 86_400_000) }, eq(webhookDeliveries.id, old.id));
    expect(await pruneDeliveryLogs(env.database.global, 30)).toBeGreaterThanOrEqual(1);
    const left = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    expect(left.map((d: { id: number }) => d.id)).not.toContain(old.id);
    expect(left).toHaveLength(1);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});

describe('dispatch', () => {
  it('a run stops at its share and says so (its job then queues a successor); the next run goes on from its cursor', async () => {
    const hook = await register({ eventTypes: ['user.created'], enabled: false });
    for (let i = 0; i < 3; i++) await api.call('POST', '/api/users', { email: email('share') });
    await api.call('PATCH', `/api/webhooks/${hook.id}`, { enabled: true });
    // The horizon may hold events back a moment: wait until all three are readable.
    const deadline = Date.now() + 20_000;
    while ((await drain(api, hook.cursor as string | null, { types: 'user.created' })).items.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(await drainEndpoint({ ...deps(), eventsPerRun: 2 }, scope(), hook.id, 1)).toBe(true);
    expect(received).toHaveLength(2);
    expect(await drainEndpoint({ ...deps(), eventsPerRun: 2 }, scope(), hook.id, 1)).toBe(false);
    expect(received).toHaveLength(3);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('adds no delivery job behind one that waits out a retry (the minutely sweep would pile them up)', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    answer = 500;
    await api.call('POST', '/api/users', { email: email('pile') });
    await pump(1);
    const mine = async () => (await env.app.services.jobs.find(DELIVERY_QUEUE)).filter((j) => (j.data as { endpointId?: string }).endpointId === hook.id && ['created', 'retry', 'active'].includes(j.state));
    expect((await mine()).map((j) => j.state)).toEqual(['retry']);
    for (let i = 0; i < 5; i++) await dispatch({ jobs: env.app.services.jobs }, scope());
    expect((await mine()).map((j) => j.state)).toEqual(['retry']);
    expect(typesOf(received)).toEqual(['user.created']);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});
