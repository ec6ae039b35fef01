/**
 * Outgoing mail as a service other capabilities call: `queue(tx, message)` inserts a `mail.send` job in the caller's
 * transaction (src/platform/jobs.ts), so a change and the email it causes commit together or not at all; the job
 * worker delivers it with retries and exponential backoff. No Fastify types here.
 *
 * The job row holds the message sealed (AES-256-GCM under the master key, bound to the tenant): links in it are
 * credentials (invitation tokens), and pg-boss keeps job data in plain tables until its retention ends.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import type { Jobs } from '../platform/jobs.ts';
import type { MailLogger, MailMessage, MailTransport } from './transport.ts';

export const MAIL_QUEUE = 'mail.send';
/** 8 retries, 30 s doubling up to an hour: a mail server down for a few hours still gets the message. */
export const MAIL_RETRY = { limit: 8, delaySeconds: 30, backoff: true, maxDelaySeconds: 3600 } as const;

interface MailJob {
  tenantId: string;
  sealed: string;
}

const sealContext = (tenantId: string) => `mail/v1/${tenantId}`;

/** SMTP replies 5xx are permanent (RFC 5321 §4.2.1): retrying cannot help. */
function permanent(err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export class Mailer {
  readonly #jobs: Jobs;
  readonly #keyring: Keyring;
  readonly #transport: MailTransport;
  readonly #from: string;
  readonly #log: MailLogger;
  /** The pg-boss queue; tests give each app its own, so parallel test files never take each other's jobs. */
  readonly queueName: string;

  constructor(opts: { jobs: Jobs; keyring: Keyring; transport: MailTransport; from: string; log: MailLogger; queue?: string | undefined }) {
    this.queueName = opts.queue ?? MAIL_QUEUE;
    this.#jobs = opts.jobs;
    this.#keyring = opts.keyring;
    this.#transport = opts.transport;
    this.#from = opts.from;
    this.#log = opts.log;
    this.#jobs.define<MailJob>({
      name: this.queueName,
      retry: MAIL_RETRY,
      expireInSeconds: 120,
      handler: (data, job) => this.#deliver(data, job.retryCount),
    });
  }

  get transportKind(): MailTransport['kind'] {
    return this.#transport.kind;
  }

  /** Enqueues `message` in `scope`'s transaction; it is sent once that commits. */
  async queue(scope: TenantScope, message: MailMessage): Promise<void> {
    const sealed = this.#keyring.seal(JSON.stringify(message), sealContext(scope.tenantId));
    await this.#jobs.send(scope, this.queueName, { sealed });
  }

  async #deliver(data: MailJob, attempt: number): Promise<void> {
    let message: MailMessage;
    try {
      message = JSON.parse(this.#keyring.unseal(data.sealed, sealContext(data.tenantId))) as MailMessage;
    } catch {
      // Not ours (another master key) or tampered with: no retry can open it.
      this.#log.error({ tenantId: data.tenantId }, 'mail job cannot be opened; dropped');
      return;
    }
    try {
      const sent = await this.#transport.deliver(this.#from, message);
      this.#log.info({ tenantId: data.tenantId, messageId: sent.messageId, attempt }, 'mail delivered');
    } catch (err) {
      if (permanent(err)) {
        this.#log.error({ tenantId: data.tenantId, err, attempt }, 'mail refused by the server; not retried');
        return;
      }
      this.#log.warn({ tenantId: data.tenantId, err, attempt }, 'mail delivery failed; will retry');
      throw err;
    }
  }

  close(): void {
    this.#transport.close();
  }
}
