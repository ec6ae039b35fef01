/**
 * Standard Webhooks signatures, https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * (§ Signature scheme): `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`,
 * several signatures separated by spaces; the key is the base64 after `whsec_`. Signed over the exact bytes sent.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new signing secret: `whsec_` + 32 random bytes in base64 (the spec's recommended 24 to 64 bytes). */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function signatureOf(secret: string, id: string, timestamp: number, body: Buffer): string {
  if (!secret.startsWith(PREFIX)) throw new Error('webhook secret without whsec_ prefix');
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64')}`;
}

/** The three Standard Webhooks headers for `body`, signed with every secret given (new first, then the previous). */
export function signedHeaders(secrets: string[], id: string, body: Buffer, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signatureOf(s, id, timestamp, body)).join(' '),
  };
}
