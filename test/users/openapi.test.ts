/** The management API documents itself well enough to be operated from Scalar alone. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
let doc: { paths: Record<string, Record<string, any>> };

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  doc = (await env.app.inject({ url: '/openapi.json', headers: { host: t.host } })).json();
});
afterAll(() => env.close());

// The management API of this issue; `/api/users/{userId}/identities` belongs to sign-in.
const OURS = /^\/api\/(users|roles|upstream|audit)(\/(?!.*\/identities)|$)/;

it('every users, roles, upstream and audit operation has a tag, an operationId, a summary, a description and the iam/ scope', () => {
  const ops = Object.entries(doc.paths)
    .filter(([path]) => OURS.test(path))
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  expect(ops.length).toBe(25);
  const tags = new Set<string>();
  const ids = new Set<string>();
  for (const { path, method, op } of ops) {
    const where = `${method.toUpperCase()} ${path}`;
    expect(op.tags?.length, where).toBeGreaterThan(0);
    op.tags.forEach((tag: string) => tags.add(tag));
    expect(op.operationId, where).toMatch(/^[a-z0-9]+(\.[a-zA-Z0-9]+)+$/);
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
  expect([...tags].sort()).toEqual(['Audit', 'Auth0', 'AzureAd', 'Google', 'Roles', 'Users']);
});

/** A body's examples: `example` when there is one, else each of `examples` (Scalar shows the first first). */
const examplesOf = (path: string, method: string): unknown[] => {
  const content = doc.paths[path]![method].requestBody.content['application/json'];
  return content.example !== undefined ? [content.example] : Object.values(content.examples as Record<string, { value: unknown }>).map((e) => e.value);
};

it("the seed's example bodies are the documented examples", () => {
  const example = (path: string, method: string) => examplesOf(path, method)[0];
  expect(example('/api/upstream/AzureAd/{id}', 'put')).toEqual({
    displayName: 'Hesehus Azure AD',
    clientId: '00000000-0000-0000-0000-000000000000',
    clientSecret: '<secret>',
    tenantId: '00000000-0000-0000-0000-000000000000',
    trustAllUsers: false,
    defaultUserRoles: [],
  });
  expect(example('/api/users', 'post')).toEqual({ email: 'admin@example.com', fullName: 'Ada Admin' });
  expect(example('/api/users/{userId}/roles', 'post')).toEqual({ roles: ['admin'] });
});

it('the documented examples are accepted as they are', async () => {
  const { bootstrapToken } = await import('../support/app.ts');
  const token = await bootstrapToken(env.app, t);
  const inject = (method: string, url: string, body: unknown) =>
    env.app.inject({ method: method as 'PUT', url, headers: { host: t.host, authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  for (const [path, method] of [
    ['/api/upstream/AzureAd/{id}', 'put'],
    ['/api/upstream/Google/{id}', 'put'],
    ['/api/upstream/Auth0/{id}', 'put'],
    ['/api/roles', 'post'],
    ['/api/users', 'post'],
  ] as const) {
    for (const [i, example] of examplesOf(path, method).entries()) {
      // An upstream bound to an organization names one of this tenant's: a fresh one stands in for the example's id.
      const body = { ...(example as Record<string, unknown>) };
      if (body.organizationId) body.organizationId = (await inject('POST', '/api/organizations', { displayName: `Example ${i}` })).json().id;
      const res = await inject(method.toUpperCase(), path.replace('{id}', `example${i || ''}`), body);
      expect(res.statusCode, `${method} ${path} #${i}: ${res.body}`).toBe(201);
    }
  }
});

it('the secret is documented as write-only and never appears in a response schema', () => {
  const put = doc.paths['/api/upstream/AzureAd/{id}']!.put;
  expect(put.requestBody.content['application/json'].schema.properties.clientSecret.description).toContain('Write-only');
  for (const [path, methods] of Object.entries(doc.paths).filter(([p]) => OURS.test(p))) {
    for (const [method, op] of Object.entries(methods)) {
      expect(JSON.stringify(op.responses), `${method} ${path}`).not.toMatch(/"clientSecret"|"password"|passwordHash|Sealed/);
    }
  }
});
