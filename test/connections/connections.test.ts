/**
 * SSO connections of organizations: create (OIDC, SAML), the write-only secret, activation rules, the domain
 * pre-check from verified domains only, deletion with the organization, audit, and isolation between tenants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let other: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydA==\n-----END CERTIFICATE-----';

async function org(a: Api = api, name = 'Megacorp'): Promise<string> {
  const res = await a.call('POST', '/api/organizations', { displayName: name });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

async function verifiedDomain(a: Api, orgId: string, domain: string): Promise<void> {
  const d = await a.call('POST', `/api/organizations/${orgId}/domains`, { domain });
  expect(d.statusCode).toBe(201);
  expect((await a.call('POST', `/api/organizations/${orgId}/domains/${d.json().id}/mark-verified`, {})).statusCode).toBe(200);
}

const oidc = { type: 'oidc', displayName: 'Megacorp Okta', settings: { issuer: 'https://megacorp.okta.example', clientId: 'client-1' } };

describe('connections', () => {
  it('creates an OIDC connection as draft; the secret is write-only and never returned or audited', async () => {
    const orgId = await org();
    const res = await api.call('POST', `/api/organizations/${orgId}/connections`, { ...oidc, clientSecret: 'very-secret-value' });
    expect(res.statusCode).toBe(201);
    const c = res.json();
    expect(c).toMatchObject({ organizationId: orgId, type: 'oidc', status: 'draft', hasClientSecret: true, jitPolicy: 'verified_domains' });
    expect(c.settings).toEqual({ issuer: 'https://megacorp.okta.example', clientId: 'client-1', scopes: ['openid', 'email', 'profile'] });
    expect(c.serviceProvider.redirectUri).toBe(`${api.tenant.tenant.issuer}/sso/oidc/${c.id}/callback`);
    expect(res.body).not.toContain('very-secret-value');
    expect((await api.call('GET', `/api/connections/${c.id}`)).body).not.toContain('very-secret-value');
    const audit = await api.call('GET', '/api/audit?limit=50');
    expect(audit.body).toContain('connection.create');
    expect(audit.body).not.toContain('very-secret-value');
  });

  it('activation needs a complete connection; only active ones are listed by the domain pre-check, and only on verified domains', async () => {
    const orgId = await org();
    const c = (await api.call('POST', `/api/organizations/${orgId}/connections`, oidc)).json();
    const refused = await api.call('POST', `/api/connections/${c.id}/activate`, {});
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toMatch(/client secret/);
    expect((await api.call('PATCH', `/api/connections/${c.id}`, { clientSecret: 's3cret' })).json().hasClientSecret).toBe(true);

    // A pending (unverified) domain does not count.
    expect((await api.call('POST', `/api/organizations/${orgId}/domains`, { domain: 'pending-megacorp.org' })).statusCode).toBe(201);
    expect((await api.call('GET', '/api/connections?domain=pending-megacorp.org')).json()).toMatchObject({ sso: false, organizationId: null });

    await verifiedDomain(api, orgId, 'megacorp.org');
    expect((await api.call('GET', '/api/connections?domain=megacorp.org')).json()).toMatchObject({ sso: false, organizationId: orgId, connections: [] });
    const active = await api.call('POST', `/api/connections/${c.id}/activate`, {});
    expect(active.statusCode).toBe(200);
    expect(active.json().status).toBe('active');
    const pre = (await api.call('GET', '/api/connections?domain=ada@MEGACORP.org')).json();
    expect(pre).toMatchObject({ domain: 'megacorp.org', sso: true, organizationId: orgId, connections: [{ id: c.id, type: 'oidc' }] });
    // Another tenant sees nothing of it.
    expect((await other.call('GET', '/api/connections?domain=megacorp.org')).json()).toMatchObject({ sso: false, organizationId: null });
    expect((await api.call('POST', `/api/connections/${c.id}/deactivate`, {})).json().status).toBe('inactive');
    expect((await api.call('GET', '/api/connections?domain=megacorp.org')).json().sso).toBe(false);
  });

  it('SAML: entity ID, ACS and metadata URLs; settings validated', async () => {
    const orgId = await org();
    const bad = await api.call('POST', `/api/organizations/${orgId}/connections`, { type: 'saml', displayName: 'ADFS', settings: { idpEntityId: 'x', idpSsoUrl: 'javascript:alert(1)', idpCertificates: [PEM] } });
    expect(bad.statusCode).toBe(400);
    const noCert = await api.call('POST', `/api/organizations/${orgId}/connections`, { type: 'saml', displayName: 'ADFS', settings: { idpEntityId: 'x', idpSsoUrl: 'https://adfs.example/sso', idpCertificates: [] } });
    expect(noCert.statusCode).toBe(400);
    const res = await api.call('POST', `/api/organizations/${orgId}/connections`, {
      type: 'saml',
      displayName: 'ADFS',
      settings: { idpEntityId: 'http://adfs.example/adfs/services/trust', idpSsoUrl: 'https://adfs.example/adfs/ls', idpCertificates: [PEM] },
    });
    expect(res.statusCode).toBe(201);
    const c = res.json();
    expect(c.serviceProvider).toEqual({
      entityId: `${api.tenant.tenant.issuer}/sso/saml/${c.id}/metadata`,
      acsUrl: `${api.tenant.tenant.issuer}/sso/saml/${c.id}/acs`,
      metadataUrl: `${api.tenant.tenant.issuer}/sso/saml/${c.id}/metadata`,
    });
    expect(c.settings).toMatchObject({ wantAssertionsSigned: true, wantResponseSigned: false });
    // A SAML connection has no client secret.
    expect((await api.call('PATCH', `/api/connections/${c.id}`, { clientSecret: 'x' })).statusCode).toBe(400);
    expect((await api.call('PATCH', `/api/connections/${c.id}`, { settings: { idpEntityId: 'only' } })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/connections/${c.id}/activate`, {})).json().status).toBe('active');
  });

  it('lists in creation order; deleting the organization deletes its connections', async () => {
    const orgId = await org();
    const first = (await api.call('POST', `/api/organizations/${orgId}/connections`, { ...oidc, displayName: 'first' })).json();
    const second = (await api.call('POST', `/api/organizations/${orgId}/connections`, { ...oidc, displayName: 'second' })).json();
    expect((await api.call('GET', `/api/organizations/${orgId}/connections`)).json().items.map((c: { id: string }) => c.id)).toEqual([first.id, second.id]);
    expect((await api.call('DELETE', `/api/organizations/${orgId}`)).statusCode).toBe(204);
    expect((await api.call('GET', `/api/connections/${first.id}`)).statusCode).toBe(404);
    expect((await api.call('GET', `/api/organizations/${orgId}/connections`)).statusCode).toBe(404);
  });

  it('another tenant gets 404 for every connection route; a foreign token is 401', async () => {
    const orgId = await org();
    const c = (await api.call('POST', `/api/organizations/${orgId}/connections`, oidc)).json();
    expect((await other.call('GET', `/api/connections/${c.id}`)).statusCode).toBe(404);
    expect((await other.call('PATCH', `/api/connections/${c.id}`, { displayName: 'stolen' })).statusCode).toBe(404);
    expect((await other.call('POST', `/api/connections/${c.id}/activate`, {})).statusCode).toBe(404);
    expect((await other.call('DELETE', `/api/connections/${c.id}`)).statusCode).toBe(404);
    expect((await other.call('GET', `/api/organizations/${orgId}/connections`)).statusCode).toBe(404);
    expect((await other.call('POST', `/api/organizations/${orgId}/connections`, oidc)).statusCode).toBe(404);
    const foreign = await env.app.inject({ method: 'GET', url: `/api/connections/${c.id}`, headers: { host: api.tenant.host, authorization: `Bearer ${other.token}` } });
    expect(foreign.statusCode).toBe(401);
    expect((await api.call('GET', `/api/connections/${c.id}`)).json().displayName).toBe('Megacorp Okta');
  });

  it('hostile input: unknown fields, a NUL byte, a non-uuid id', async () => {
    const orgId = await org();
    expect((await api.call('POST', `/api/organizations/${orgId}/connections`, { ...oidc, extra: 1 })).statusCode).toBe(400);
    expect((await api.call('POST', `/api/organizations/${orgId}/connections`, { ...oidc, displayName: 'a\u0000b' })).statusCode).toBe(400);
    expect((await api.call('GET', '/api/connections/not-a-uuid')).statusCode).toBe(400);
    expect((await api.call('POST', `/api/organizations/${orgId}/connections`, { type: 'ldap', displayName: 'x', settings: {} })).statusCode).toBe(400);
  });
});

describe('connections in the OpenAPI document', () => {
  it('every operation has the Connections tag, a unique operationId, a description, the iam/ scope and the right permission', async () => {
    const doc = (await env.app.inject({ url: '/openapi.json', headers: { host: api.tenant.host } })).json() as { paths: Record<string, Record<string, any>> };
    const ops = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/connections') || path.endsWith('/connections'))
      .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(ops.length).toBe(13);
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.tags, where).toEqual(['Connections']);
      expect(op.operationId, where).toMatch(/^connections\.[a-zA-Z]+$/);
      expect(op.description?.length, where).toBeGreaterThan(20);
      expect(op.security, where).toEqual([{ oauth2: ['iam/'] }]);
      if (op.requestBody && method !== 'post' || (op.requestBody && path.endsWith('/connections'))) {
        const content = op.requestBody.content['application/json'];
        expect(content.example ?? content.examples, `${where}: no example body`).toBeTruthy();
      }
      const permission = env.app.services.routePermissions.get(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
      expect(permission, where).toBe(method === 'get' ? 'connections:read' : 'connections:write');
    }
  });
});
