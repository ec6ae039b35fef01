/** A small client for the management API in tests: JSON in, parsed JSON out, one tenant's host and token. */
import type { LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import { basic, bootstrapToken, type TestEnv, type TestTenant } from './app.ts';

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

/**
 * A MachineClient bound to `organizationId` with `iam/organization` (ADR 0009), created through `api`, and a token
 * for it from the real token endpoint: the organization-confined caller of the cross-organization tests.
 */
export async function organizationClientToken(env: TestEnv, api: Api, clientId: string, organizationId: string): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  const put = await api.call('PUT', `/api/downstream/MachineClient/${clientId}`, { displayName: `Organization client ${clientId}`, allowedScopes: ['iam/organization'], organizationId, clientSecret: secret });
  if (put.statusCode !== 201) throw new Error(`creating ${clientId}: ${put.statusCode} ${put.body}`);
  const res = await env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: api.tenant.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope: 'iam/organization' }).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`token for ${clientId}: ${res.statusCode} ${res.body}`);
  return res.json().access_token as string;
}
