/**
 * How a message leaves: SMTP (RFC 5321) with nodemailer over `SMTP_URL`, or, without it, an .eml file (RFC 5322
 * message, as a mail client saves it) under `<DATA_DIR>/mail/` with its link logged, so `npm start` works offline.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The message's call to action, logged when the message is only written to a file. */
  link?: string | undefined;
}

export interface MailLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface Delivered {
  messageId: string;
  /** The .eml file written (no SMTP_URL). */
  file?: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'eml';
  deliver(from: string, message: MailMessage): Promise<Delivered>;
  close(): void;
}

/** Headers every message carries: automatic, so no auto-reply loops (RFC 3834 §5). */
const headers = { 'Auto-Submitted': 'auto-generated' };

function envelope(from: string, m: MailMessage) {
  return { from, to: m.to, subject: m.subject, text: m.text, html: m.html, headers };
}

export function smtpTransport(url: string): MailTransport {
  // One connection per message: sends are rare and a pooled connection would sit open between them.
  const t = nodemailer.createTransport({ url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  return {
    kind: 'smtp',
    async deliver(from, message) {
      const info = await t.sendMail(envelope(from, message));
      return { messageId: info.messageId };
    },
    close: () => t.close(),
  };
}

export function emlTransport(dataDir: string, log: MailLogger): MailTransport {
  const folder = path.join(path.resolve(dataDir), 'mail');
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'eml',
    async deliver(from, message) {
      const info = await t.sendMail(envelope(from, message));
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const file = path.join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      // The message holds a live link: readable by this user only.
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      log.info({ file, to: message.to, subject: message.subject, link: message.link }, 'mail written to a file (no SMTP_URL)');
      return { messageId: info.messageId, file };
    },
    close: () => t.close(),
  };
}

export function mailTransport(config: { SMTP_URL?: string | undefined; DATA_DIR: string }, log: MailLogger): MailTransport {
  return config.SMTP_URL ? smtpTransport(config.SMTP_URL) : emlTransport(config.DATA_DIR, log);
}
