/**
 * Outgoing mail (src/mail): real SMTP to a loopback server, parsed as a mail client would; the .eml fallback without
 * SMTP_URL; the queue's transaction semantics, retries and permanent refusals; sealed job data; the templates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { smtpSink, type SmtpSink } from '../support/smtp.ts';
import { forTenant } from '../../src/platform/db.ts';
import { invitationMail } from '../../src/mail/templates.ts';
import type { MailMessage } from '../../src/mail/transport.ts';

let sink: SmtpSink;
let env: TestEnv;
let tenant: TestTenant;
let dataDir: string;
let offline: TestEnv;
const queue = () => env.app.services.mailer.queueName;

beforeAll(async () => {
  sink = await smtpSink();
  env = await testEnv({ SMTP_URL: sink.url, MAIL_FROM: 'Acme IAM <iam@acme.example>' }, { mailQueue: `mail.send.${randomBytes(4).toString('hex')}` });
  tenant = await env.newTenant();
  dataDir = await mkdtemp(path.join(tmpdir(), 'iam-mail-'));
  offline = await testEnv({ DATA_DIR: dataDir }, { mailQueue: `mail.send.${randomBytes(4).toString('hex')}` });
});
afterAll(async () => {
  await env.close();
  await offline.close();
  await sink.close();
  await rm(dataDir, { recursive: true, force: true });
});

const message = (link = `http://${tenant.host}/invitations/accept?token=${randomBytes(8).toString('hex')}`): MailMessage => ({
  to: `ada-${randomBytes(3).toString('hex')}@example.com`,
  subject: 'Hello',
  text: `Open ${link}`,
  html: `<p><a href="${link}">Open</a></p>`,
  link,
});
const send = (e: TestEnv, m: MailMessage) => forTenant(e.database.db, tenant.tenant.id).transaction((tx) => e.app.services.mailer.queue(tx, m));

describe('SMTP', () => {
  it('delivers HTML and plain text over SMTP once the transaction commits', async () => {
    const m = message();
    await send(env, m);
    expect(sink.messages.length).toBe(0);
    expect(await env.app.services.jobs.runQueued(queue())).toEqual({ completed: 1, failed: 0 });
    const got = sink.messages.at(-1)!;
    expect(sink.recipients.at(-1)).toEqual([m.to]);
    expect(got.from?.value).toEqual([{ address: 'iam@acme.example', name: 'Acme IAM' }]);
    expect((got.to as { value: { address: string }[] }).value[0]!.address).toBe(m.to);
    expect(got.subject).toBe('Hello');
    expect(got.text?.trim()).toBe(m.text);
    expect(got.html).toContain(`href="${m.link}"`);
    // RFC 3834 §5: marked automatic, so auto-responders stay quiet.
    expect(got.headers.get('auto-submitted')).toBe('auto-generated');
  });

  it('a message queued in a rolled-back transaction is never sent', async () => {
    const before = sink.messages.length;
    await expect(
      forTenant(env.database.db, tenant.tenant.id).transaction(async (tx) => {
        await env.app.services.mailer.queue(tx, message());
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await env.app.services.jobs.runQueued(queue())).toEqual({ completed: 0, failed: 0 });
    expect(sink.messages.length).toBe(before);
  });

  it('a temporary refusal (4xx) fails the job for a retry with backoff; a permanent one (5xx) is not retried', async () => {
    const before = sink.messages.length;
    sink.failNext(451);
    await send(env, message());
    expect(await env.app.services.jobs.runQueued(queue())).toEqual({ completed: 0, failed: 1 });
    const jobs = await env.app.services.jobs.find(queue(), {});
    expect(jobs.some((j) => j.state === 'retry')).toBe(true);
    expect(sink.messages.length).toBe(before);

    sink.failNext(550);
    await send(env, message());
    // Due now: the retried job waits for its delay, the new one runs and is dropped as refused.
    expect(await env.app.services.jobs.runQueued(queue())).toEqual({ completed: 1, failed: 0 });
    expect(env.logs.join('')).toContain('mail refused by the server; not retried');
  });

  it('the job row holds the message sealed: neither the link nor the address is readable in pg-boss', async () => {
    const m = message();
    await send(env, m);
    const jobs = await env.app.services.jobs.find(queue(), {});
    const raw = JSON.stringify(jobs.map((j) => j.data));
    expect(raw).toContain('sealed');
    expect(raw).not.toContain(m.link!);
    expect(raw).not.toContain(m.to);
    await env.app.services.jobs.runQueued(queue());
  });
});

describe('.eml fallback (no SMTP_URL)', () => {
  it('writes each message as an .eml file under DATA_DIR/mail and logs its link', async () => {
    expect(offline.app.services.mailer.transportKind).toBe('eml');
    const m = message();
    await send(offline, m);
    expect(await offline.app.services.jobs.runQueued(offline.app.services.mailer.queueName)).toEqual({ completed: 1, failed: 0 });
    const files = (await readdir(path.join(dataDir, 'mail'))).filter((f) => f.endsWith('.eml'));
    expect(files.length).toBe(1);
    const parsed = await simpleParser(await readFile(path.join(dataDir, 'mail', files[0]!)));
    expect(parsed.subject).toBe('Hello');
    expect(parsed.html).toContain(m.link!);
    const line = offline.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'mail written to a file (no SMTP_URL)');
    expect(line).toMatchObject({ link: m.link, to: m.to, file: path.join(dataDir, 'mail', files[0]!) });
  });
});

describe('templates', () => {
  const input = { to: 'ada@example.com', organizationName: 'Acme <Corp>', link: 'https://iam.example/invitations/accept?token=abc&x=1', expiresAt: new Date('2030-01-01T00:00:00Z') };

  it('names the tenant and the organization, in HTML (escaped) and in plain text', () => {
    const m = invitationMail({ tenantName: 'Tenant "One"', logoUrl: null, color: null }, input);
    expect(m.subject).toBe('Invitation to join Acme <Corp> on Tenant "One"');
    expect(m.html).toContain('Acme &lt;Corp&gt; on Tenant &quot;One&quot;');
    expect(m.html).not.toContain('<Corp>');
    expect(m.html).toContain('href="https://iam.example/invitations/accept?token=abc&amp;x=1"');
    expect(m.text).toContain('Accept invitation: https://iam.example/invitations/accept?token=abc&x=1');
    expect(m.text).toContain('Tenant "One"');
    expect(m.link).toBe(input.link);
  });

  it('uses the branding: an https logo and a #rrggbb colour; anything else falls back to the defaults', () => {
    const branded = invitationMail({ tenantName: 'T', logoUrl: 'https://cdn.example/logo.png', color: '#aa3300' }, input);
    expect(branded.html).toContain('<img src="https://cdn.example/logo.png"');
    expect(branded.html).toContain('#aa3300');
    const hostile = invitationMail({ tenantName: 'T', logoUrl: 'javascript:alert(1)', color: 'red;background:url(x)' }, input);
    expect(hostile.html).not.toContain('javascript:');
    expect(hostile.html).not.toContain('url(x)');
    expect(hostile.html).toContain('#0b57d0');
  });

  it('a subject never carries a line break (no header injection)', () => {
    const m = invitationMail({ tenantName: 'T\r\nBcc: evil@example.com', logoUrl: null, color: null }, input);
    expect(m.subject).not.toMatch(/[\r\n]/);
  });
});
