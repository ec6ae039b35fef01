/**
 * Real HTTP for OAuth flows: the app listening on loopback with a tenant whose host is that address, and a tiny
 * cookie-keeping browser stand-in for the redirects of the authorization code flow (the Chromium tests do it for real).
 */
import type { AddressInfo } from 'node:net';
import { testEnv, newTenant, type TestEnv, type TestTenant } from './app.ts';

export interface ListeningEnv extends TestEnv {
  base: string;
  tenant: TestTenant;
}

export async function listeningEnv(env: Record<string, string> = {}, opts: Parameters<typeof testEnv>[1] = {}): Promise<ListeningEnv> {
  const e = await testEnv(env, opts);
  await e.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = e.app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const tenant = await newTenant(e.database, e.keys, { host: `127.0.0.1:${port}`, issuer: base });
  return { ...e, base, tenant };
}

/** Follows redirects by hand, keeping cookies, like a browser would (no JavaScript). */
export class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (/Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follows 30x until a response that is not a redirect, or until `stopAt` matches the next URL. */
  async follow(url: string, stopAt?: (url: string) => boolean): Promise<{ url: string; res: Response }> {
    let current = url;
    for (let i = 0; i < 10; i++) {
      const res = await this.request(current);
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !loc) return { url: current, res };
      current = new URL(loc, current).toString();
      if (stopAt?.(current)) return { url: current, res };
    }
    throw new Error('too many redirects');
  }

  /** Submits the login form found at `loginUrl` with the given credentials; returns the redirect target. */
  async signIn(loginUrl: string, login: string, password: string): Promise<Response> {
    const page = await this.request(loginUrl);
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';
    return this.request(new URL('/login', loginUrl).toString(), { form: { login, password, csrf: field('csrf'), return_to: field('return_to') } });
  }
}
