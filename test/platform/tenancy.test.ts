/** Host → tenant resolution, and the scoped data-access layer's isolation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { clients } from '../../src/db/schema/index.ts';
import { clientsRepository } from '../../src/downstream/repository.ts';

let multi: TestEnv;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  multi = await testEnv({ TENANCY_MODE: 'multi' });
  a = await multi.newTenant();
  b = await multi.newTenant();
});
afterAll(() => multi.close());

describe('Host → tenant', () => {
  it('multi-tenant: an unknown host is 404 before any route runs', async () => {
    const res = await multi.app.inject({ url: '/.well-known/openid-configuration', headers: { host: 'nobody.test' } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ title: 'Unknown host' });
  });

  it('hosts match case-insensitively, with or without a port', async () => {
    for (const host of [a.host.toUpperCase(), `${a.host}:8443`, `${a.host}.`]) {
      const res = await multi.app.inject({ url: '/.well-known/openid-configuration', headers: { host } });
      expect(res.json().issuer, host).toBe(`http://${a.host}`);
    }
  });

  it('health and readiness answer any host', async () => {
    expect((await multi.app.inject({ url: '/healthz', headers: { host: 'lb.internal' } })).statusCode).toBe(200);
    const ready = await multi.app.inject({ url: '/readyz', headers: { host: 'lb.internal' } });
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('single-tenant: an unknown host is served as the configured default tenant', async () => {
    const single = await testEnv({ TENANCY_MODE: 'single', DEFAULT_TENANT_SLUG: a.tenant.slug });
    try {
      const res = await single.app.inject({ url: '/.well-known/openid-configuration', headers: { host: 'anything.example' } });
      expect(res.statusCode).toBe(200);
      expect(res.json().issuer).toBe(`http://${a.host}`);
      // A known host still resolves to its own tenant.
      const own = await single.app.inject({ url: '/.well-known/openid-configuration', headers: { host: b.host } });
      expect(own.json().issuer).toBe(`http://${b.host}`);
    } finally {
      await single.close();
    }
  });
});

describe('forTenant: the scoped data-access layer', () => {
  it("tenant B's scope cannot find, update or delete tenant A's client", async () => {
    const scopeA = forTenant(multi.database.db, a.tenant.id);
    const scopeB = forTenant(multi.database.db, b.tenant.id);
    await clientsRepository(scopeA).insertClient({ clientId: 'only-in-a', clientType: 'MachineClient', displayName: 'A', allowedScopes: [] });
    expect(await clientsRepository(scopeB).findClient('only-in-a')).toBeUndefined();
    expect(await scopeB.update(clients, { displayName: 'pwned' }, eq(clients.clientId, 'only-in-a')).returning()).toEqual([]);
    expect(await scopeB.delete(clients, eq(clients.clientId, 'only-in-a')).returning()).toEqual([]);
    expect((await clientsRepository(scopeA).findClient('only-in-a'))?.displayName).toBe('A');
    // Both tenants have a client named "bootstrap": the ids are equal, the rows are separate.
    expect(a.clientId).toBe(b.clientId);
  });

  it('inserts are stamped with the scope tenant, whatever the caller passes', async () => {
    const scopeB = forTenant(multi.database.db, b.tenant.id);
    await scopeB.insert(clients, { tenantId: a.tenant.id, clientId: 'sneaky', clientType: 'MachineClient', displayName: 's' } as never);
    expect(await clientsRepository(forTenant(multi.database.db, a.tenant.id)).findClient('sneaky')).toBeUndefined();
    expect(await clientsRepository(scopeB).findClient('sneaky')).toBeDefined();
  });
});
