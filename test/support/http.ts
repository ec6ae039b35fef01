import { expect } from 'vitest';
import * as client from 'openid-client';
import type { TestTenant } from './app.ts';

/** A client_credentials token for the tenant's bootstrap client over real HTTP. */
export async function bootstrapTokenHttp(base: string, t: TestTenant, scope = 'iam/'): Promise<string> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64') },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/**
 * The management API over real HTTP with a bearer token: `api` answers whatever came, `ok` insists on a 2xx. Base URL
 * and token are read at each call (tests set them in beforeAll).
 */
export function httpApi(base: () => string, token: () => string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(base() + path, { method, headers: { authorization: `Bearer ${token()}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  }
  async function ok(method: string, path: string, body?: unknown) {
    const r = await api(method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
    return r.body;
  }
  return { api, ok };
}

/** An application's authorization request (openid-client, PKCE S256, a random state) with extra `params`. */
export async function authorizationRequest(base: string, app: { clientId: string; secret: string; redirectUri: string }, params: Record<string, string>) {
  const config = await client.discovery(new URL(base), app.clientId, app.secret, undefined, { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: app.redirectUri, scope: 'openid profile email', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...params });
  return { config, verifier, state, url };
}
