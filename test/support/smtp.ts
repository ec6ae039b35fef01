/**
 * A real SMTP server on 127.0.0.1 (port 0) that keeps what it receives, parsed with mailparser: the mail sink of the
 * mail and invitation tests. `failNext(code)` answers the next message's DATA with that reply code.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface SmtpSink {
  url: string;
  messages: ParsedMail[];
  /** Raw envelope recipients, per message. */
  recipients: string[][];
  failNext(code: number): void;
  close(): Promise<void>;
}

export async function smtpSink(): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const recipients: string[][] = [];
  const failures: number[] = [];
  const server = new SMTPServer({
    // Plain SMTP on loopback: no TLS offered, no authentication asked.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const code = failures.shift();
        if (code) return callback(Object.assign(new Error(code >= 500 ? 'Mailbox unavailable' : 'Try again later'), { responseCode: code }));
        messages.push(await simpleParser(Buffer.concat(chunks)));
        recipients.push(session.envelope.rcptTo.map((r) => r.address));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    recipients,
    failNext: (code) => failures.push(code),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
