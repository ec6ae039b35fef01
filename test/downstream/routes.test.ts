/** `/api/downstream`: clients, secrets, protected APIs; type rules, bad input, cross-tenant, cross-instance caching. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let a: TestTenant;
let b: TestTenant;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  env = await testEnv();
  a = await env.newTenant();
  b = await env.newTenant();
  tokenA = await bootstrapToken(env.app, a);
  tokenB = await bootstrapToken(env.app, b);
});
afterAll(() => env.close());

function call(method: string, url: string, body?: unknown, opts: { tenant?: TestTenant; token?: string; env?: TestEnv } = {}) {
  const t = opts.tenant ?? a;
  return (opts.env ?? env).app.inject({
    method: method as 'GET',
    url,
    headers: { host: t.host, authorization: `Bearer ${opts.token ?? tokenA}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}

function tokenFor(clientId: string, secret: string, t: TestTenant = a, e: TestEnv = env) {
  return e.app.inject({ method: 'POST', url: '/oauth2/token', headers: { host: t.host, authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
}

describe('PUT /api/downstream/{type}/{id}', () => {
  it('creates (201), then replaces idempotently (200), and GET returns the same', async () => {
    const body = { displayName: 'DAM integration', allowedScopes: ['damapi/'] };
    const created = await call('PUT', '/api/downstream/MachineClient/dam', body);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ clientId: 'dam', type: 'MachineClient', displayName: 'DAM integration', allowedScopes: ['damapi/'], secretCount: 0, tokenSigningAlg: 'ES256' });
    const again = await call('PUT', '/api/downstream/MachineClient/dam', body);
    expect(again.statusCode).toBe(200);
    expect({ ...again.json(), updatedAt: 0 }).toEqual({ ...created.json(), updatedAt: 0 });
    expect((await call('GET', '/api/downstream/MachineClient/dam')).json().displayName).toBe('DAM integration');
    expect((await call('GET', '/api/downstream/MachineClient')).json().map((c: { clientId: string }) => c.clientId)).toContain('dam');
    expect((await call('GET', '/api/downstream')).json().map((c: { clientId: string }) => c.clientId)).toEqual(expect.arrayContaining(['bootstrap', 'dam']));
  });

  it('a client created without a secret gets one afterwards, shown once; the list shows metadata only', async () => {
    await call('PUT', '/api/downstream/MachineClient/later', { displayName: 'Later', allowedScopes: ['damapi/'] });
    const s = await call('POST', '/api/downstream/MachineClient/later/secrets', { description: 'first' });
    expect(s.statusCode).toBe(201);
    expect(s.json().secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const list = await call('GET', '/api/downstream/MachineClient/later/secrets');
    expect(list.json()).toEqual([{ id: s.json().id, description: 'first', expiresAt: null, createdAt: expect.any(String) }]);
    expect(list.body).not.toContain(s.json().secret);
    expect((await tokenFor('later', s.json().secret)).statusCode).toBe(200);
  });

  it('two live secrets at once: rotation without downtime', async () => {
    await call('PUT', '/api/downstream/MachineClient/rot', { displayName: 'Rot', allowedScopes: ['damapi/'] });
    const s1 = (await call('POST', '/api/downstream/MachineClient/rot/secrets', {})).json();
    const s2 = (await call('POST', '/api/downstream/MachineClient/rot/secrets', {})).json();
    expect((await tokenFor('rot', s1.secret)).statusCode).toBe(200);
    expect((await tokenFor('rot', s2.secret)).statusCode).toBe(200);
    expect((await call('DELETE', `/api/downstream/MachineClient/rot/secrets/${s1.id}`)).statusCode).toBe(204);
    expect((await tokenFor('rot', s1.secret)).statusCode).toBe(401);
    expect((await tokenFor('rot', s2.secret)).statusCode).toBe(200);
  });

  it('scope values are exact: "iam" without the slash is rejected naming it', async () => {
    const res = await call('PUT', '/api/downstream/MachineClient/bad', { displayName: 'Bad', allowedScopes: ['iam'] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ unknownScopes: ['iam'] });
    expect(res.json().detail).toContain('trailing slash');
  });

  it('type rules: fields of another type are unknown fields; redirect URIs must be https (or loopback http) without fragment', async () => {
    const m = await call('PUT', '/api/downstream/MachineClient/mc1', { displayName: 'M', redirectUris: ['https://x.example/cb'] });
    expect(m.statusCode).toBe(400);
    expect(m.json().errors[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['redirectUris'] });
    const spa = await call('PUT', '/api/downstream/ClientSideApplication/spa-one', { displayName: 'S', clientSecret: 'x'.repeat(40) });
    expect(spa.statusCode).toBe(400);
    for (const uri of ['http://app.example.com/cb', 'https://app.example.com/cb#frag', 'not a url', 'javascript:alert(1)']) {
      const r = await call('PUT', '/api/downstream/InteractiveApplication/int-one', { displayName: 'I', redirectUris: [uri] });
      expect(r.statusCode, uri).toBe(400);
    }
    expect((await call('PUT', '/api/downstream/InteractiveApplication/int-one', { displayName: 'I', redirectUris: ['http://127.0.0.1:8080/cb', 'https://app.example.com/cb'] })).statusCode).toBe(201);
    expect((await call('PUT', '/api/downstream/ClientSideApplication/spa-two', { displayName: 'S', allowedCorsOrigins: ['https://shop.example.com/path'] })).statusCode).toBe(400);
  });

  it('changing a client’s type is a 409; a public client has no secrets (400)', async () => {
    await call('PUT', '/api/downstream/ClientSideApplication/spa1', { displayName: 'SPA', redirectUris: ['https://shop.example.com/cb'], allowedCorsOrigins: ['https://shop.example.com'] });
    expect((await call('PUT', '/api/downstream/MachineClient/spa1', { displayName: 'x' })).statusCode).toBe(409);
    expect((await call('GET', '/api/downstream/MachineClient/spa1')).statusCode).toBe(404);
    expect((await call('POST', '/api/downstream/ClientSideApplication/spa1/secrets', {})).statusCode).toBe(404);
  });

  it('invalid ids, malformed JSON and oversized bodies are 4xx problems', async () => {
    expect((await call('PUT', '/api/downstream/MachineClient/a%20b', { displayName: 'x' })).statusCode).toBe(400);
    expect((await call('PUT', '/api/downstream/Robot/x', { displayName: 'x' })).statusCode).toBe(404);
    expect((await call('PUT', '/api/downstream/MachineClient/ok-id', '{"displayName":')).statusCode).toBe(400);
    expect((await call('PUT', '/api/downstream/MachineClient/ok-id', { displayName: 'x'.repeat(2_000_000) })).statusCode).toBe(413);
    expect((await call('DELETE', '/api/downstream/MachineClient/x/secrets/not-a-uuid')).statusCode).toBe(400);
  });

  it('deleting a client stops its secret at once and is audited', async () => {
    await call('PUT', '/api/downstream/MachineClient/gone', { displayName: 'Gone', allowedScopes: ['damapi/'], clientSecret: 'g'.repeat(40) });
    expect((await tokenFor('gone', 'g'.repeat(40))).statusCode).toBe(200);
    expect((await call('DELETE', '/api/downstream/MachineClient/gone')).statusCode).toBe(204);
    expect((await tokenFor('gone', 'g'.repeat(40))).statusCode).toBe(401);
    expect((await call('DELETE', '/api/downstream/MachineClient/gone')).statusCode).toBe(404);
    const { auditEvents } = await import('../../src/db/schema/index.ts');
    const { forTenant } = await import('../../src/platform/db.ts');
    const { eq } = await import('drizzle-orm');
    const rows = await forTenant(env.database.db, a.tenant.id).select(auditEvents, eq(auditEvents.targetId, 'gone'));
    expect(rows.map((r) => r.action)).toEqual(['client.create', 'client.secret.create', 'client.delete']);
    expect(rows[0]!.actorId).toBe('bootstrap');
    expect(JSON.stringify(rows)).not.toContain('g'.repeat(40));
  });
});

describe('tenant isolation', () => {
  it("tenant B cannot see, change, delete or add secrets to tenant A's clients (404)", async () => {
    await call('PUT', '/api/downstream/MachineClient/a-only', { displayName: 'A only', allowedScopes: ['damapi/'], clientSecret: 'a'.repeat(40) });
    const asB = { tenant: b, token: tokenB };
    expect((await call('GET', '/api/downstream/MachineClient/a-only', undefined, asB)).statusCode).toBe(404);
    expect((await call('DELETE', '/api/downstream/MachineClient/a-only', undefined, asB)).statusCode).toBe(404);
    expect((await call('POST', '/api/downstream/MachineClient/a-only/secrets', {}, asB)).statusCode).toBe(404);
    expect((await call('GET', '/api/downstream/MachineClient/a-only/secrets', undefined, asB)).statusCode).toBe(404);
    expect((await call('GET', '/api/downstream', undefined, asB)).json().map((c: { clientId: string }) => c.clientId)).not.toContain('a-only');
    // B's PUT of the same id creates B's own client, leaving A's untouched.
    expect((await call('PUT', '/api/downstream/MachineClient/a-only', { displayName: 'B copy' }, asB)).statusCode).toBe(201);
    expect((await call('GET', '/api/downstream/MachineClient/a-only')).json().displayName).toBe('A only');
    expect((await tokenFor('a-only', 'a'.repeat(40), b)).statusCode).toBe(401);
  });
});

describe('protected APIs', () => {
  it('lists the built-in APIs exactly as the seed names them', async () => {
    const res = await call('GET', '/api/downstream/ProtectedApis');
    const scopes = res.json().flatMap((api: { scopes: string[] }) => api.scopes);
    expect(scopes).toEqual(expect.arrayContaining(['aiapi/', 'damapi/', 'eventtrackingapi/', 'iam/', 'mailapi/', 'pimapi/', 'searchapi/', 'scim.read', 'scim.write']));
  });

  it("a tenant's own API: its scopes become grantable, with its audience; scope collisions are 409", async () => {
    expect((await call('PUT', '/api/downstream/ProtectedApis/orders', { displayName: 'Orders', scopes: ['ordersapi/'] })).statusCode).toBe(201);
    expect((await call('PUT', '/api/downstream/ProtectedApis/other', { displayName: 'Other', scopes: ['ordersapi/'] })).statusCode).toBe(409);
    expect((await call('PUT', '/api/downstream/ProtectedApis/iam', { displayName: 'Mine', scopes: ['x/'] })).statusCode).toBe(409);
    await call('PUT', '/api/downstream/MachineClient/orders-client', { displayName: 'O', allowedScopes: ['ordersapi/'], clientSecret: 'o'.repeat(40) });
    const tok = await tokenFor('orders-client', 'o'.repeat(40));
    const { decodeJwt } = await import('jose');
    expect(decodeJwt(tok.json().access_token)).toMatchObject({ aud: 'orders', scope: 'ordersapi/' });
    // Not visible to tenant B.
    const bApis = (await call('GET', '/api/downstream/ProtectedApis', undefined, { tenant: b, token: tokenB })).json();
    expect(bApis.map((x: { audience: string }) => x.audience)).not.toContain('orders');
  });
});

describe('across instances', () => {
  it('a secret deleted through one instance stops working on another at once (LISTEN/NOTIFY)', async () => {
    const other = await testEnv();
    try {
      await call('PUT', '/api/downstream/MachineClient/multi', { displayName: 'Multi', allowedScopes: ['damapi/'] });
      const s = (await call('POST', '/api/downstream/MachineClient/multi/secrets', {})).json();
      // Warm the other instance's cache.
      expect((await tokenFor('multi', s.secret, a, other)).statusCode).toBe(200);
      expect((await call('DELETE', `/api/downstream/MachineClient/multi/secrets/${s.id}`)).statusCode).toBe(204);
      // Delivery is asynchronous; it arrives within milliseconds on loopback.
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        status = (await tokenFor('multi', s.secret, a, other)).statusCode;
      }
      expect(status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('revocation across instances', () => {
  it('an access token revoked on one instance is inactive on another at once (cached revocation lists are dropped at commit)', async () => {
    const other = await testEnv();
    try {
      await call('PUT', '/api/downstream/MachineClient/rev', { displayName: 'Rev', allowedScopes: ['damapi/'], clientSecret: 'r'.repeat(40) });
      const token = (await tokenFor('rev', 'r'.repeat(40))).json().access_token as string;
      const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('rev', 'r'.repeat(40)) };
      const introspect = (e: TestEnv) => e.app.inject({ method: 'POST', url: '/oauth2/introspect', headers: { host: a.host, ...form }, payload: `token=${token}` }).then((r) => r.json().active);
      expect(await introspect(other)).toBe(true); // the other instance now caches "nothing revoked"
      expect((await env.app.inject({ method: 'POST', url: '/oauth2/revoke', headers: { host: a.host, ...form }, payload: `token=${token}` })).statusCode).toBe(200);
      expect(await introspect(env)).toBe(false);
      let active = true;
      for (let i = 0; i < 50 && active; i++) {
        await new Promise((r) => setTimeout(r, 20));
        active = await introspect(other);
      }
      expect(active).toBe(false);
    } finally {
      await other.close();
    }
  });
});

describe('CORS for browser clients', () => {
  it('the token endpoint allows only origins registered on a ClientSideApplication', async () => {
    await call('PUT', '/api/downstream/ClientSideApplication/shop', { displayName: 'Shop', redirectUris: ['https://shop.example.com/cb'], allowedCorsOrigins: ['https://shop.example.com'] });
    const pre = (origin: string) => env.app.inject({ method: 'OPTIONS', url: '/oauth2/token', headers: { host: a.host, origin, 'access-control-request-method': 'POST' } });
    const ok = await pre('https://shop.example.com');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
    const evil = await pre('https://evil.example.com');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    // Tenant B has no such SPA.
    const other = await env.app.inject({ method: 'OPTIONS', url: '/oauth2/token', headers: { host: b.host, origin: 'https://shop.example.com' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
