/**
 * Webhook endpoints (issue #13 item 5): registration, Standard Webhooks signatures verified with the `standardwebhooks`
 * package over the exact bytes received, delivery through pg-boss in feed order, the delivery log, 410 disabling,
 * secret rotation with two signatures, the bounded outbound fetcher, retries spanning more than 3 days.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { drain } from '../support/events.ts';
import { DEFAULT_DISABLE_AFTER_SECONDS, DELIVERY_QUEUE, DISPATCH_QUEUE, deliveryRetry, drainEndpoint, minimumRetrySpanSeconds } from '../../src/webhooks/delivery.ts';
import { forTenant } from '../../src/platform/db.ts';
import { outboundFromConfig } from '../../src/platform/outbound.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let env: TestEnv;
let api: Api;
let other: Api;
let server: http.Server;
let receiverUrl: string;
let received: Received[] = [];
let answer = 200;

const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(`answer ${answer} ${'x'.repeat(3000)}`);
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
});

/** Runs dispatch and delivery jobs until nothing is left to do now (the feed's horizon may hold events back a moment). */
async function pump(expected: number) {
  const deadline = Date.now() + 20_000;
  while (received.length < expected && Date.now() < deadline) {
    await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
    const ran = await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
    if (!ran.completed && !ran.failed) await new Promise((r) => setTimeout(r, 25));
  }
}

async function register(body: Record<string, unknown> = {}) {
  const res = await api.call('POST', '/api/webhooks', { url: receiverUrl, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string; [k: string]: unknown };
}

const verify = (secret: string, r: Received) =>
  new Webhook(secret).verify(r.body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });

describe('registration', () => {
  it('returns the whsec_ secret once; it is stored sealed, never listed', async () => {
    const hook = await register({ description: 'all' });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const got = (await api.call('GET', `/api/webhooks/${hook.id}`)).json();
    expect(got).toMatchObject({ id: hook.id, url: receiverUrl, enabled: true, eventTypes: [] });
    expect(JSON.stringify(got)).not.toContain(hook.secret.slice(6));
    expect(JSON.stringify((await api.call('GET', '/api/webhooks')).json())).not.toContain(hook.secret.slice(6));
    const owner = new pg.Client({ connectionString: inject('databaseUrl') });
    await owner.connect();
    try {
      await owner.query(`SELECT set_config('app.tenant_id', $1, false)`, [api.tenant.tenant.id]);
      const { rows } = await owner.query('SELECT secret_sealed FROM webhook_endpoints WHERE id = $1', [hook.id]);
      expect(rows[0].secret_sealed).not.toContain(hook.secret.slice(6, 20));
    } finally {
      await owner.end();
    }
    const audit = (await api.call('GET', `/api/audit?targetType=webhook&targetId=${hook.id}`)).json().items;
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['webhook.create']);
    expect((await api.call('DELETE', `/api/webhooks/${hook.id}`)).statusCode).toBe(204);
  });

  it.each([
    [{ url: 'ftp://example.com/x' }, 'not https'],
    [{ url: 'http://example.com/x' }, 'plain http to a public host'],
    [{ url: 'https://user:pw@example.com/x' }, 'credentials in the URL'],
    [{ url: 'not a url' }, 'not a URL'],
    [{ url: 'https://example.com', eventTypes: ['User.*'] }, 'bad type pattern'],
    [{ url: 'https://example.com', colour: 'red' }, 'unknown field'],
    [{ url: 'https://example.com', organizationId: 'nope' }, 'organizationId not a uuid'],
  ] as [Record<string, unknown>, string][])('refuses %j (%s) with 400', async (body) => {
    const res = await api.call('POST', '/api/webhooks', body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('an unknown organization is 404; another tenant cannot see, change or delete the endpoint', async () => {
    expect((await api.call('POST', '/api/webhooks', { url: receiverUrl, organizationId: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
    const hook = await register();
    expect((await other.call('GET', `/api/webhooks/${hook.id}`)).statusCode).toBe(404);
    expect((await other.call('PATCH', `/api/webhooks/${hook.id}`, { enabled: false })).statusCode).toBe(404);
    expect((await other.call('DELETE', `/api/webhooks/${hook.id}`)).statusCode).toBe(404);
    expect((await other.call('GET', `/api/webhooks/${hook.id}/deliveries`)).statusCode).toBe(404);
    expect((await other.call('GET', '/api/webhooks')).json().items).toEqual([]);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});

describe('delivery', () => {
  it('delivers every matching event in feed order, signed over the exact bytes (verified with standardwebhooks), body = the feed\'s event', async () => {
    const org = (await api.call('POST', '/api/organizations', { displayName: `Org ${uid()}` })).json();
    const hook = await register({ eventTypes: ['user.*'] });
    const users: string[] = [];
    for (let i = 0; i < 3; i++) users.push((await api.call('POST', '/api/users', { email: email('wh') })).json().id);
    await api.call('PATCH', `/api/organizations/${org.id}`, { displayName: 'Not delivered' });
    await api.call('PATCH', `/api/users/${users[0]}`, { fullName: 'Changed' });
    await pump(4);
    expect(received.map((r) => JSON.parse(r.body).type)).toEqual(['user.created', 'user.created', 'user.created', 'user.updated']);
    expect(received.map((r) => JSON.parse(r.body).data.id)).toEqual([...users, users[0]]);
    const feed = (await drain(api, null, { types: 'user.*' })).items;
    for (const r of received) {
      expect(verify(hook.secret, r)).toBeTruthy();
      expect(r.headers['content-type']).toBe('application/json');
      const event = JSON.parse(r.body);
      expect(r.headers['webhook-id']).toBe(event.id);
      expect(event).toEqual(feed.find((e) => e.id === event.id));
    }
    // One flipped byte and the signature no longer verifies.
    const tampered = { ...received[0]!, body: received[0]!.body.replace('user.created', 'user.deleted') };
    expect(() => verify(hook.secret, tampered)).toThrow();
    const log = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    expect(log).toHaveLength(4);
    expect(log[0]).toMatchObject({ outcome: 'succeeded', responseStatus: 200, attempt: 1, eventType: 'user.updated' });
    expect(log[0].responseExcerpt.length).toBe(1024);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('an organization filter delivers only that organization\'s events', async () => {
    const a = (await api.call('POST', '/api/organizations', { displayName: `A ${uid()}` })).json();
    const b = (await api.call('POST', '/api/organizations', { displayName: `B ${uid()}` })).json();
    const hook = await register({ organizationId: a.id });
    await api.call('PATCH', `/api/organizations/${b.id}`, { displayName: 'B2' });
    await api.call('PATCH', `/api/organizations/${a.id}`, { displayName: 'A2' });
    await pump(1);
    expect(received.map((r) => [JSON.parse(r.body).type, JSON.parse(r.body).organizationId])).toEqual([['organization.updated', a.id]]);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('a failing receiver: the attempt is logged and the job is left to retry; retries span more than 3 days', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    answer = 503;
    await api.call('POST', '/api/users', { email: email('fail') });
    await pump(1);
    const log = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    expect(log[0]).toMatchObject({ outcome: 'failed', responseStatus: 503, attempt: 1 });
    expect(log[0].responseExcerpt).toContain('answer 503');
    const jobs = await env.app.services.jobs.find(DELIVERY_QUEUE);
    const mine = jobs.filter((j) => (j.data as { endpointId?: string }).endpointId === hook.id);
    expect(mine.map((j) => j.state)).toEqual(['retry']);
    // The retries outlast the disabling period, whatever it is configured to (default 5 days; never under 3).
    expect(minimumRetrySpanSeconds()).toBeGreaterThanOrEqual(DEFAULT_DISABLE_AFTER_SECONDS);
    expect(minimumRetrySpanSeconds(deliveryRetry(60))).toBeGreaterThan(3 * 86_400);
    expect(minimumRetrySpanSeconds(deliveryRetry(30 * 86_400))).toBeGreaterThanOrEqual(30 * 86_400);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('when the last retry fails, the endpoint is disabled (audited) and keeps its cursor: re-enabled, it resumes there', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    answer = 500;
    const user = (await api.call('POST', '/api/users', { email: email('last') })).json();
    const scope = forTenant(env.database.db, api.tenant.tenant.id);
    const deps = { keyring: env.keys, outbound: outboundFromConfig(env.config), disableAfterSeconds: DEFAULT_DISABLE_AFTER_SECONDS };
    const deadline = Date.now() + 20_000;
    while (!received.length && Date.now() < deadline) await drainEndpoint(deps, scope, hook.id, 22, true);
    const got = (await api.call('GET', `/api/webhooks/${hook.id}`)).json();
    expect(got).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('days') });
    const audit = (await api.call('GET', `/api/audit?targetType=webhook&targetId=${hook.id}`)).json().items;
    expect(audit[0]).toMatchObject({ action: 'webhook.disable', after: { reason: expect.stringMatching(/^Deliveries failed for 5 days \(since /) } });
    answer = 200;
    received = [];
    expect((await api.call('PATCH', `/api/webhooks/${hook.id}`, { enabled: true })).statusCode).toBe(200);
    await drainEndpoint(deps, scope, hook.id, 1);
    expect(received.map((r) => JSON.parse(r.body).data.id)).toEqual([user.id]);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('410 Gone disables the endpoint, audited; nothing more is delivered to it', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    answer = 410;
    await api.call('POST', '/api/users', { email: email('gone') });
    await pump(1);
    const got = (await api.call('GET', `/api/webhooks/${hook.id}`)).json();
    expect(got).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('410') });
    const audit = (await api.call('GET', `/api/audit?targetType=webhook&targetId=${hook.id}`)).json().items;
    expect(audit[0]).toMatchObject({ action: 'webhook.disable', actor: { type: 'system' } });
    answer = 200;
    received = [];
    await api.call('POST', '/api/users', { email: email('after') });
    await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
    await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
    expect(received).toEqual([]);
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });

  it('a private address is refused by the outbound fetcher at delivery, logged as an error', async () => {
    const hook = await register({ url: 'https://10.1.2.3/hooks', eventTypes: ['user.created'] });
    await api.call('POST', '/api/users', { email: email('private') });
    const deadline = Date.now() + 20_000;
    let log: { outcome: string; error: string | null; responseStatus: number | null }[] = [];
    while (!log.length && Date.now() < deadline) {
      await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
      await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
      log = (await api.call('GET', `/api/webhooks/${hook.id}/deliveries`)).json().items;
    }
    expect(log[0]).toMatchObject({ outcome: 'failed', responseStatus: null, error: expect.stringContaining('private') });
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});

describe('secret rotation', () => {
  it('during the grace period deliveries carry two signatures: the new secret and the previous one both verify', async () => {
    const hook = await register({ eventTypes: ['user.created'] });
    const rotated = await api.call('POST', `/api/webhooks/${hook.id}/secret/rotate`, { graceSeconds: 3600 });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { secret, previousSecretExpiresAt } = rotated.json();
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(hook.secret);
    expect(previousSecretExpiresAt).not.toBeNull();
    await api.call('POST', '/api/users', { email: email('rot') });
    await pump(1);
    const r = received[0]!;
    expect(String(r.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(secret, r)).toBeTruthy();
    expect(verify(hook.secret, r)).toBeTruthy();
    // Without grace, the previous secret stops at once.
    const again = (await api.call('POST', `/api/webhooks/${hook.id}/secret/rotate`, { graceSeconds: 0 })).json();
    received = [];
    await api.call('POST', '/api/users', { email: email('rot2') });
    await pump(1);
    expect(String(received[0]!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verify(again.secret, received[0]!)).toBeTruthy();
    expect(() => verify(secret, received[0]!)).toThrow();
    await api.call('DELETE', `/api/webhooks/${hook.id}`);
  });
});
