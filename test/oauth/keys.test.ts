/** Signing keys: per tenant, encrypted at rest, rotation that breaks no one, RS256 per client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { eq } from 'drizzle-orm';
import { basic, bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { signingKeys } from '../../src/db/schema/index.ts';

let env: TestEnv;
let t: TestTenant;
let admin: string;

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  admin = await bootstrapToken(env.app, t);
});
afterAll(() => env.close());

const jwks = async () => (await env.app.inject({ url: '/oauth2/jwks', headers: { host: t.host } })).json() as { keys: { kid: string; alg: string; d?: string }[] };
const rotate = (body?: unknown) =>
  env.app.inject({ method: 'POST', url: '/api/keys/rotate', headers: { host: t.host, authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });

describe('rotation', () => {
  it('the next key is published before it signs; old tokens keep verifying; the JWKS never holds private parts', async () => {
    const before = await jwks();
    expect(before.keys).toHaveLength(2); // active + next
    const oldToken = admin;
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const nextKid = before.keys.find((k) => k.kid !== oldKid)!.kid;

    const res = await rotate();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ active: nextKid, retired: oldKid });

    const fresh = await bootstrapToken(env.app, t);
    // The new signing key is the one resource servers had already cached.
    expect(decodeProtectedHeader(fresh).kid).toBe(nextKid);
    const after = await jwks();
    expect(after.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, nextKid, res.json().next]));
    for (const k of after.keys) expect(k).not.toHaveProperty('d');
    // A resource server holding the pre-rotation JWKS verifies the new token; the old token still verifies too.
    await jwtVerify(fresh, createLocalJWKSet(before as never), { issuer: `http://${t.host}` });
    await jwtVerify(oldToken, createLocalJWKSet(after as never), { issuer: `http://${t.host}` });
    expect((await env.app.inject({ url: '/api/tenant', headers: { host: t.host, authorization: `Bearer ${oldToken}` } })).statusCode).toBe(200);

    const list = await env.app.inject({ url: '/api/keys', headers: { host: t.host, authorization: `Bearer ${fresh}` } });
    const statuses = list.json().map((k: { status: string }) => k.status).sort();
    expect(statuses).toEqual(['active', 'next', 'retired']);
  });

  it('private keys are stored sealed, bound to their tenant and kid', async () => {
    const rows = await forTenant(env.database.db, t.tenant.id).select(signingKeys, eq(signingKeys.status, 'active'));
    const row = rows[0]!;
    expect(row.privateJwkSealed).not.toContain('"d"');
    expect(JSON.parse(env.keys.unseal(row.privateJwkSealed, `${t.tenant.id}/${row.kid}`))).toHaveProperty('d');
    expect(() => env.keys.unseal(row.privateJwkSealed, `other-tenant/${row.kid}`)).toThrow();
  });

  it('RS256 per client', async () => {
    const put = await env.app.inject({
      method: 'PUT',
      url: '/api/downstream/MachineClient/rsa-client',
      headers: { host: t.host, authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ displayName: 'RSA', allowedScopes: ['damapi/'], clientSecret: 'r'.repeat(40), tokenSigningAlg: 'RS256' }),
    });
    expect(put.statusCode).toBe(201);
    const tok = await env.app.inject({ method: 'POST', url: '/oauth2/token', headers: { host: t.host, authorization: basic('rsa-client', 'r'.repeat(40)), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
    const token = tok.json().access_token;
    expect(decodeProtectedHeader(token).alg).toBe('RS256');
    await jwtVerify(token, createLocalJWKSet((await jwks()) as never), { issuer: `http://${t.host}`, audience: 'damapi' });
  });

  it('rotation needs scope iam/', async () => {
    expect((await env.app.inject({ method: 'POST', url: '/api/keys/rotate', headers: { host: t.host } })).statusCode).toBe(401);
  });
});
