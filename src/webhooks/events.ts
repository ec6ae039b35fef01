/** Webhooks' feed events (src/events/catalog.ts): the endpoint as `/api/webhooks` shows it, never its secret. */
import type { z } from 'zod';
import { defineFeedEvents } from '../events/catalog.ts';
import { webhookResponse, webhookToWire } from './schemas.ts';
import type { WebhookEndpoint } from './service.ts';

type WebhookWire = z.infer<typeof webhookResponse>;
declare module '../events/catalog.ts' {
  interface FeedEventData {
    'webhook.disabled': WebhookWire;
  }
}

defineFeedEvents({
  'webhook.disabled': {
    schema: webhookResponse,
    description: 'The service disabled an endpoint: the receiver answered 410 Gone, or deliveries failed for WEBHOOK_DISABLE_AFTER_SECONDS (`disabledReason` says which). Re-enable it with PATCH; it resumes at its cursor.',
  },
});

export const webhookData = (e: WebhookEndpoint): WebhookWire => webhookToWire(e);
