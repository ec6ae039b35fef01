/**
 * SCIM test helpers: a tenant with a machine client allowed scim.read/scim.write (created through /api/downstream, as
 * an administrator would), tokens from the real token endpoint with HTTP Basic (Bizagi's flow), and a `scim()` call.
 */
import type { LightMyRequestResponse } from 'fastify';
import { basic, bootstrapToken, type TestEnv, type TestTenant } from '../support/app.ts';

export interface ScimClient {
  tenant: TestTenant;
  read: string;
  write: string;
  readOnly: string;
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function scimToken(env: TestEnv, t: TestTenant, clientId: string, secret: string, scope: string): Promise<string> {
  const res = await env.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { host: t.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
  return res.json().access_token;
}

export async function scimClient(env: TestEnv, t?: TestTenant): Promise<ScimClient> {
  const tenant = t ?? (await env.newTenant());
  const admin = await bootstrapToken(env.app, tenant);
  const secret = 's'.repeat(40);
  const put = await env.app.inject({
    method: 'PUT',
    url: '/api/downstream/MachineClient/provisioner',
    headers: { host: tenant.host, authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ displayName: 'IdP provisioning', allowedScopes: ['scim.read', 'scim.write'], clientSecret: secret }),
  });
  if (put.statusCode !== 201) throw new Error(`client create failed: ${put.statusCode} ${put.body}`);
  const write = await scimToken(env, tenant, 'provisioner', secret, 'scim.read scim.write');
  const readOnly = await scimToken(env, tenant, 'provisioner', secret, 'scim.read');
  return {
    tenant,
    read: readOnly,
    write,
    readOnly,
    call(method, url, body, headers = {}) {
      return env.app.inject({
        method: method as 'GET',
        url: url.startsWith('/scim/v2') ? url : `/scim/v2${url}`,
        headers: {
          host: tenant.host,
          authorization: `Bearer ${write}`,
          ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    },
  };
}

/** A directory's SCIM client: an organization, a directory and a directory token (`iamdir_…`) for its base URL. */
export async function directoryScimClient(env: TestEnv, t?: TestTenant): Promise<ScimClient & { directoryId: string; organizationId: string; base: string; admin: string }> {
  const tenant = t ?? (await env.newTenant());
  const admin = await bootstrapToken(env.app, tenant);
  const api = (method: string, url: string, body?: unknown) =>
    env.app.inject({ method: method as 'POST', url, headers: { host: tenant.host, authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  const org = await api('POST', '/api/organizations', { displayName: `Org ${Math.random().toString(36).slice(2, 8)}` });
  if (org.statusCode !== 201) throw new Error(`organization create failed: ${org.statusCode} ${org.body}`);
  const dir = await api('POST', `/api/organizations/${org.json().id}/directories`, { displayName: 'Entra ID', provider: 'entra' });
  if (dir.statusCode !== 201) throw new Error(`directory create failed: ${dir.statusCode} ${dir.body}`);
  const tok = await api('POST', `/api/directories/${dir.json().id}/tokens`, {});
  if (tok.statusCode !== 201) throw new Error(`token create failed: ${tok.statusCode} ${tok.body}`);
  const base = `/directories/${dir.json().id}/scim/v2`;
  const token: string = tok.json().token;
  return {
    tenant,
    admin,
    directoryId: dir.json().id,
    organizationId: org.json().id,
    base,
    read: token,
    write: token,
    readOnly: token,
    call(method, url, body, headers = {}) {
      return env.app.inject({
        method: method as 'GET',
        url: url.startsWith('/scim/v2') ? `${base}${url.slice('/scim/v2'.length)}` : url.startsWith('/directories/') ? url : `${base}${url}`,
        headers: { host: tenant.host, authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    },
  };
}

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const NOTIFICATIONS = 'urn:schwarz:params:scim:schemas:extension:notifications:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export const user = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: [USER], userName, ...extra });
export const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
