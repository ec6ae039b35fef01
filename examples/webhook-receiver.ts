/**
 * A webhook receiver: verifies each delivery with the `standardwebhooks` package over the raw body, acts once per
 * `webhook-id` (deliveries are at least once), answers 204. Run it with Node 24 (TypeScript runs as it is):
 *
 *   WEBHOOK_SECRET=whsec_… PORT=4000 npx node examples/webhook-receiver.ts   (npx: the project's Node 24)
 *
 * Keep the dedup set in your database in real life: here it is memory, so a restart forgets it.
 */
import http from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET ?? '');
const seen = new Set<string>();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event: { id: string; type: string; organizationId: string | null; data: Record<string, unknown> };
    try {
      // Throws unless a signature matches and the timestamp is within 5 minutes (replays are refused).
      event = webhook.verify(body, {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      }) as typeof event;
    } catch (e) {
      res.writeHead(e instanceof WebhookVerificationError ? 400 : 500).end();
      return;
    }
    if (!seen.has(event.id)) {
      seen.add(event.id);
      // Your work goes here; events of one endpoint arrive in feed order.
      console.log(`${event.type} ${String(event.data.id ?? '')} ${event.data.user_name ?? event.data.email ?? ''}`.trim());
    }
    res.writeHead(204).end();
  });
});

server.listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => console.log(`listening on ${JSON.stringify(server.address())}`));
