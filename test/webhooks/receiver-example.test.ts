/**
 * The README's receiver (examples/webhook-receiver.ts), run as written: it verifies a real delivery of
 * `organization.directory.user_created` with `standardwebhooks`, acts once per `webhook-id` when the event is
 * delivered again, and refuses a forged one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { freePort } from '../support/global-setup.ts';
import { directoryScimClient, user } from '../scim/support.ts';
import { DELIVERY_QUEUE, DISPATCH_QUEUE } from '../../src/webhooks/delivery.ts';

let env: TestEnv;
let api: Api;
let child: ChildProcess | undefined;
let out = '';

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await env.close();
});

async function until(cond: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; receiver printed: ${out}`);
    await env.app.services.jobs.runQueued(DISPATCH_QUEUE);
    await env.app.services.jobs.runQueued(DELIVERY_QUEUE);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('verifies, deduplicates by webhook-id, refuses a forgery', async () => {
  const port = await freePort();
  const c = await directoryScimClient(env, api.tenant);
  const hook = await api.call('POST', '/api/webhooks', { url: `http://127.0.0.1:${port}/webhooks`, eventTypes: ['organization.directory.*'], organizationId: c.organizationId });
  expect(hook.statusCode, hook.body).toBe(201);
  child = spawn(process.execPath, [path.resolve('examples/webhook-receiver.ts')], { env: { PATH: process.env.PATH!, WEBHOOK_SECRET: hook.json().secret, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await until(() => out.includes('listening'), 'the receiver to listen');

  const created = await c.call('POST', '/Users', user('ada@receiver.example'));
  expect(created.statusCode, created.body).toBe(201);
  const line = `organization.directory.user_created ${created.json().id} ada@receiver.example`;
  await until(() => out.includes(line), 'the delivery');
  const log = (await api.call('GET', `/api/webhooks/${hook.json().id}/deliveries`)).json().items;
  expect(log[0]).toMatchObject({ outcome: 'succeeded', responseStatus: 204 });

  // Delivered again (same webhook-id): answered 204, acted on once.
  const again = await api.call('POST', `/api/webhooks/${hook.json().id}/redeliver`, { eventId: log[0].eventId });
  expect(again.json()).toMatchObject({ outcome: 'succeeded', responseStatus: 204 });
  expect(out.split(line).length - 1).toBe(1);

  // A forgery: a body the secret did not sign.
  const forged = await fetch(`http://127.0.0.1:${port}/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') },
    body: JSON.stringify({ id: 'x', type: 'organization.directory.user_deleted', data: {} }),
  });
  expect(forged.status).toBe(400);
  expect(out).not.toContain('user_deleted');
});
