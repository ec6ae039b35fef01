/**
 * `/api/webhooks`: endpoints that receive the event feed, Standard Webhooks-signed; secret rotation; the delivery log.
 * HTTP only. Tenant administrators only: an organization-scoped client is refused (403) by the bearer hook's default.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Outbound } from '../platform/outbound.ts';
import type { Jobs } from '../platform/jobs.ts';
import { actorOf } from '../platform/auth.ts';
import { problemResponses } from '../platform/errors/problem-schema.ts';
import { createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, rotateSecret, updateEndpoint, type WebhookDeps } from './service.ts';
import { defineWebhookQueues } from './delivery.ts';
import {
  deliveriesQuery,
  deliveryPageResponse,
  deliveryToWire,
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

const TAGS = ['Webhooks'];
const READ = { permission: 'webhooks:read' } as const;
const WRITE = { permission: 'webhooks:write' } as const;

export function webhookRoutes(app: FastifyInstance, deps: { scopeFor(tenantId: string): TenantScope; keyring: Keyring; outbound: Outbound; jobs: Jobs }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const rules: WebhookDeps = { keyring: deps.keyring, checkUrl: (url) => deps.outbound.check(url) };
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
}
