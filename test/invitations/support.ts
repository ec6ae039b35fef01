/** The invitee's side without a browser: the link from the email received, the accept page and its form, via inject. */
import type { LightMyRequestResponse } from 'fastify';
import type { ParsedMail } from 'mailparser';
import type { TestEnv } from '../support/app.ts';

/** The accept link in a received invitation's plain-text part. */
export function linkIn(mail: ParsedMail): string {
  const m = /Accept invitation: (\S+)/.exec(mail.text ?? '');
  if (!m) throw new Error(`no invitation link in: ${mail.text}`);
  return m[1]!;
}

export const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

export function cookiesOf(res: LightMyRequestResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.cookies as { name: string; value: string }[]) out[c.name] = c.value;
  return out;
}

export const cookieHeader = (cookies: Record<string, string>) =>
  Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

export function hidden(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&');
}

export interface AcceptPage {
  res: LightMyRequestResponse;
  csrf: string | undefined;
  cookies: Record<string, string>;
}

export async function openLink(env: TestEnv, host: string, token: string): Promise<AcceptPage> {
  const res = await env.app.inject({ method: 'GET', url: `/invitations/accept?token=${encodeURIComponent(token)}`, headers: { host } });
  return { res, csrf: hidden(res.body, 'csrf'), cookies: cookiesOf(res) };
}

export function submit(env: TestEnv, host: string, form: Record<string, string>, opts: { cookies?: Record<string, string>; headers?: Record<string, string> } = {}) {
  return env.app.inject({
    method: 'POST',
    url: '/invitations/accept',
    headers: { host, 'content-type': 'application/x-www-form-urlencoded', ...(opts.cookies ? { cookie: cookieHeader(opts.cookies) } : {}), ...opts.headers },
    payload: new URLSearchParams(form).toString(),
  });
}
