/** The organizations API documents itself well enough to be operated from Scalar alone. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { organizationRoutes } from '../../src/organizations/routes.ts';
import { txtResolver } from '../../src/organizations/dns.ts';

let env: TestEnv;
let api: Api;
let doc: { paths: Record<string, Record<string, any>> };

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  doc = (await env.app.inject({ url: '/openapi.json', headers: { host: api.tenant.host } })).json();
});
afterAll(() => env.close());

const ops = () =>
  Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/organizations') && !path.endsWith('/connections') && !path.includes('/directories') && !path.includes('/invitations') && !path.endsWith('/portal-links'))
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));

it('every operation has the Organizations tag, a unique operationId, a summary, a description and the iam/ scope', () => {
  expect(ops().length).toBe(16);
  const ids = new Set<string>();
  for (const { path, method, op } of ops()) {
    const where = `${method.toUpperCase()} ${path}`;
    expect(op.tags, where).toEqual(['Organizations']);
    expect(op.operationId, where).toMatch(/^organizations(\.[a-zA-Z]+)+$/);
    expect(ids.has(op.operationId), `${where}: duplicate operationId`).toBe(false);
    ids.add(op.operationId);
    expect(op.summary?.length, where).toBeGreaterThan(5);
    expect(op.description?.length, where).toBeGreaterThan(20);
    expect(op.security, where).toEqual([{ oauth2: ['iam/'] }]);
    if (op.requestBody) {
      const content = op.requestBody.content['application/json'];
      expect(content.example ?? content.examples, `${where}: no example body`).toBeTruthy();
      expect(content.schema.additionalProperties, `${where}: unknown fields must be rejected`).toBe(false);
    }
  }
});

it('every route declares its permission: organizations:read for GET, organizations:write otherwise', async () => {
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const routes: { method: string; url: string; permission: unknown }[] = [];
  app.addHook('onRoute', (r) => {
    routes.push({ method: String(r.method), url: r.url, permission: r.config?.permission });
  });
  organizationRoutes(app, { scopeFor: () => undefined as never, resolver: txtResolver() });
  await app.ready();
  expect(routes.length).toBe(ops().length + routes.filter((r) => r.method === 'HEAD').length);
  for (const r of routes) expect(r.permission, `${r.method} ${r.url}`).toBe(r.method === 'GET' || r.method === 'HEAD' ? 'organizations:read' : 'organizations:write');
  await app.close();
});

it('the documented example bodies are accepted as they are', async () => {
  const example = (path: string, method: string) => {
    const content = doc.paths[path]![method].requestBody.content['application/json'];
    return content.example ?? (Object.values(content.examples)[0] as { value: unknown }).value;
  };
  const created = await api.call('POST', '/api/organizations', example('/api/organizations', 'post'));
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id;
  expect((await api.call('PATCH', `/api/organizations/${id}`, example('/api/organizations/{organizationId}', 'patch'))).statusCode).toBe(200);
  expect((await api.call('POST', `/api/organizations/${id}/domains`, example('/api/organizations/{organizationId}/domains', 'post'))).statusCode).toBe(201);
  const user = (await api.call('POST', '/api/users', { email: `ex-${Date.now()}@example.com` })).json().id;
  expect((await api.call('PUT', `/api/organizations/${id}/members/${user}`, example('/api/organizations/{organizationId}/members/{userId}', 'put'))).statusCode).toBe(201);
});
