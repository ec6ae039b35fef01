/**
 * `/api/webhooks`: endpoints that receive the event feed, Standard Webhooks-signed; secret rotation; the delivery log.
 * HTTP only. Tenant administrators only: an organization-scoped client is refused (403) by the bearer hook's default.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, rotateSecret, updateEndpoint, type WebhookDeps } from './service.ts';
import { defineWebhookQueues, DISPATCH_QUEUE, redeliver, replayFrom, sendTest, TEST_EVENT_TYPE, type DeliveryDeps } from './delivery.ts';
import {
  deliveriesQuery,
  deliveryPageResponse,
  deliveryResponse,
  deliveryToWire,
  redeliverBody,
  replayBody,
  rotateBody,
  rotateResponse,
  webhookCreateBody,
  webhookCreated,
  webhookIdParams,
  webhookListResponse,
  webhookPatchBody,
  webhookResponse,
  webhookToWire,
} from './schemas.ts';

export const WEBHOOKS_PATH = '/api/webhooks';
export const WEBHOOK_PATH = '/api/webhooks/:webhookId';
export const WEBHOOK_ROTATE_PATH = '/api/webhooks/:webhookId/secret/rotate';
export const WEBHOOK_DELIVERIES_PATH = '/api/webhooks/:webhookId/deliveries';
export const WEBHOOK_TEST_PATH = '/api/webhooks/:webhookId/test';
export const WEBHOOK_REDELIVER_PATH = '/api/webhooks/:webhookId/redeliver';
export const WEBHOOK_REPLAY_PATH = '/api/webhooks/:webhookId/replay';

const TAGS = ['Webhooks'];
const READ = { permission: 'webhooks:read' } as const;
const WRITE = { permission: 'webhooks:write' } as const;

export function webhookRoutes(app: FastifyInstance, deps: DeliveryDeps) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const rules: WebhookDeps = {
    keyring: deps.keyring,
    checkUrl: (url) => deps.outbound.check(url),
    dispatchSoon: async (tx) => void (await deps.jobs.send(tx, DISPATCH_QUEUE, {})),
  };
  defineWebhookQueues(deps);

  r.post(WEBHOOKS_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.create',
      tags: TAGS,
      summary: 'Register a webhook endpoint',
      description:
        'Events written after this call that match `eventTypes` (and `organizationId`) are POSTed to `url` in feed order, signed per Standard Webhooks ' +
        '(`webhook-id` = the event id, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), at least once: a receiver deduplicates by `webhook-id`. ' +
        'A 2xx answer is success; 410 disables the endpoint; anything else is retried with exponential backoff for more than 3 days, the next event waiting. The `secret` is shown once.',
      body: webhookCreateBody,
      response: { 201: webhookCreated, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request, reply) => {
      const { endpoint, secret } = await createEndpoint(deps.scopeFor(request.tenant.id), actorOf(request), rules, request.body);
      return reply.status(201).header('Location', `${WEBHOOKS_PATH}/${endpoint.id}`).send({ ...webhookToWire(endpoint), secret });
    },
  });

  r.get(WEBHOOKS_PATH, {
    config: READ,
    schema: { operationId: 'webhooks.list', tags: TAGS, summary: 'List webhook endpoints', description: 'All of them (at most 50 per tenant), oldest first; never their secrets.', response: { 200: webhookListResponse, ...problemResponses(401, 403) } },
    handler: async (request) => ({ items: (await listEndpoints(deps.scopeFor(request.tenant.id))).map(webhookToWire) }),
  });

  r.get(WEBHOOK_PATH, {
    config: READ,
    schema: { operationId: 'webhooks.get', tags: TAGS, summary: 'Get a webhook endpoint', params: webhookIdParams, response: { 200: webhookResponse, ...problemResponses(400, 401, 403, 404) } },
    handler: async (request) => webhookToWire(await getEndpoint(deps.scopeFor(request.tenant.id), request.params.webhookId)),
  });

  r.patch(WEBHOOK_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.update',
      tags: TAGS,
      summary: 'Change a webhook endpoint',
      description: 'Changes the fields present. Re-enabling resumes delivery after the last event handed out before it was disabled.',
      params: webhookIdParams,
      body: webhookPatchBody,
      response: { 200: webhookResponse, ...problemResponses(400, 401, 403, 404, 413, 415) },
    },
    handler: async (request) => webhookToWire(await updateEndpoint(deps.scopeFor(request.tenant.id), actorOf(request), rules, request.params.webhookId, request.body)),
  });

  r.delete(WEBHOOK_PATH, {
    config: WRITE,
    schema: { operationId: 'webhooks.delete', tags: TAGS, summary: 'Delete a webhook endpoint', description: 'Deliveries not yet made are dropped, and the delivery log with it.', params: webhookIdParams, response: { 204: z.null(), ...problemResponses(400, 401, 403, 404) } },
    handler: async (request, reply) => {
      await deleteEndpoint(deps.scopeFor(request.tenant.id), actorOf(request), request.params.webhookId);
      return reply.status(204).send(null);
    },
  });

  r.post(WEBHOOK_ROTATE_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.rotateSecret',
      tags: TAGS,
      summary: 'Rotate the signing secret',
      description: 'A new secret, shown once. Until `previousSecretExpiresAt` every delivery carries two signatures (new and previous), so the receiver can switch at its own pace.',
      params: webhookIdParams,
      body: rotateBody,
      response: { 200: rotateResponse, ...problemResponses(400, 401, 403, 404, 415) },
    },
    handler: async (request) => {
      const r = await rotateSecret(deps.scopeFor(request.tenant.id), actorOf(request), rules, request.params.webhookId, request.body?.graceSeconds);
      return { secret: r.secret, previousSecretExpiresAt: r.previousSecretExpiresAt?.toISOString() ?? null };
    },
  });

  r.get(WEBHOOK_DELIVERIES_PATH, {
    config: READ,
    schema: {
      operationId: 'webhooks.deliveries',
      tags: TAGS,
      summary: 'The delivery log of an endpoint',
      description: 'Every attempt, newest first: event, attempt number, outcome, the receiver\'s status, latency and the start of its answer.',
      params: webhookIdParams,
      querystring: deliveriesQuery,
      response: { 200: deliveryPageResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const page = await listDeliveries(deps.scopeFor(request.tenant.id), request.params.webhookId, request.query);
      return { items: page.items.map(deliveryToWire), nextCursor: page.nextCursor };
    },
  });

  r.post(WEBHOOK_TEST_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.test',
      tags: TAGS,
      summary: 'Send a test message',
      description:
        `POSTs a \`${TEST_EVENT_TYPE}\` message to the endpoint now, signed like every delivery, enabled or not, and answers the attempt (also in the delivery log as \`trigger: test\`). ` +
        'It is not in the event feed (`position` is null) and does not move the cursor. A receiver answering non-2xx is still a 200 here: read `outcome`.',
      params: webhookIdParams,
      response: { 200: deliveryResponse, ...problemResponses(400, 401, 403, 404) },
    },
    handler: async (request) => deliveryToWire(await sendTest(deps, deps.scopeFor(request.tenant.id), request.params.webhookId)),
  });

  r.post(WEBHOOK_REDELIVER_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.redeliver',
      tags: TAGS,
      summary: 'Deliver one event again',
      description:
        'One attempt now, outside feed order (the receiver lost it, or must process it again), logged as `trigger: redelivery` and audited. ' +
        'Only an event the endpoint subscribes to (400 otherwise) and has been handed already (409 otherwise: it will come, in order); 404 once retention deleted it.',
      params: webhookIdParams,
      body: redeliverBody,
      response: { 200: deliveryResponse, ...problemResponses(400, 401, 403, 404, 409, 415) },
    },
    handler: async (request) => deliveryToWire(await redeliver(deps, deps.scopeFor(request.tenant.id), actorOf(request), request.params.webhookId, request.body.eventId)),
  });

  r.post(WEBHOOK_REPLAY_PATH, {
    config: WRITE,
    schema: {
      operationId: 'webhooks.replay',
      tags: TAGS,
      summary: 'Replay the feed from a cursor',
      description:
        'Moves the endpoint\'s cursor back to `after`: every matching event after it is delivered again, in feed order, through the usual retries (receivers deduplicate by `webhook-id`). ' +
        '400 for a cursor later than the endpoint\'s own (that would skip events), 410 for one older than retention. Audited.',
      params: webhookIdParams,
      body: replayBody,
      response: { 200: webhookResponse, ...problemResponses(400, 401, 403, 404, 410, 415) },
    },
    handler: async (request) => webhookToWire(await replayFrom(deps, deps.scopeFor(request.tenant.id), actorOf(request), request.params.webhookId, request.body.after)),
  });
}
