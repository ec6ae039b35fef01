/** A small client for the management API in tests: JSON in, parsed JSON out, one tenant's host and token. */
import type { LightMyRequestResponse } from 'fastify';
import { bootstrapToken, type TestEnv, type TestTenant } from './app.ts';

export interface Api {
  token: string;
  tenant: TestTenant;
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Sends `payload` as it is (malformed JSON, oversized bodies). */
  raw(method: string, url: string, payload: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function apiFor(env: TestEnv, tenant: TestTenant): Promise<Api> {
  const token = await bootstrapToken(env.app, tenant);
  const raw = (method: string, url: string, payload: string, headers: Record<string, string> = {}) =>
    env.app.inject({
      method: method as 'GET',
      url,
      headers: { host: tenant.host, authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      payload,
    });
  return {
    token,
    tenant,
    raw,
    call: (method, url, body, headers = {}) =>
      body === undefined
        ? env.app.inject({ method: method as 'GET', url, headers: { host: tenant.host, authorization: `Bearer ${token}`, ...headers } })
        : raw(method, url, JSON.stringify(body), headers),
  };
}

/** A unique email for this run. */
export function email(prefix = 'user'): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}@example.com`;
}
