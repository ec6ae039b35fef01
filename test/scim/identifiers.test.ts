/**
 * SCIM Users and login identifiers (issue #9, #10): `emails` has uniqueness none (RFC 7643 §8.7.1), `userName` is
 * unique (server) under one canonical comparison key; look-alike userNames are 400 invalidValue or 409 uniqueness.
 * https://www.rfc-editor.org/rfc/rfc7643#section-8.7.1
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { ERROR, scimClient, user, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;
beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
});
afterAll(() => env.close());

const tag = () => Math.random().toString(36).slice(2, 8);
const work = (value: string) => ({ emails: [{ value, type: 'work', primary: true }] });

describe('RFC 7643 §8.7.1: emails are not unique', () => {
  it('two users with different userNames and the same email are both created, and both found by an email filter', async () => {
    const shared = `shared-${tag()}@example.com`;
    const a = await c.call('POST', '/Users', user(`a-${tag()}`, work(shared)));
    const b = await c.call('POST', '/Users', user(`b-${tag()}`, work(shared.toUpperCase())));
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const found = await c.call('GET', `/Users?filter=${encodeURIComponent(`emails.value eq "${shared}"`)}`);
    expect(found.json().totalResults).toBe(2);
    expect(found.json().Resources.map((r: { id: string }) => r.id).sort()).toEqual([a.json().id, b.json().id].sort());
  });

  it("a userName that is another user's email → 409 uniqueness; an email that is another user's userName → 409", async () => {
    const kate = `kate-${tag()}@example.com`;
    expect((await c.call('POST', '/Users', user(`kate-${tag()}`, work(kate)))).statusCode).toBe(201);
    const mallory = await c.call('POST', '/Users', user(kate.toUpperCase(), work(`mallory-${tag()}@example.com`)));
    expect(mallory.statusCode).toBe(409);
    expect(mallory.json()).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });

    const named = `named-${tag()}@example.com`;
    expect((await c.call('POST', '/Users', user(named))).statusCode).toBe(201);
    const clash = await c.call('POST', '/Users', user(`clash-${tag()}`, work(named)));
    expect(clash.statusCode).toBe(409);
    expect(clash.json().scimType).toBe('uniqueness');
  });
});

describe('userName: one canonical form', () => {
  it.each([
    ['fullwidth', 'ｂｊｅｎｓｅｎ'],
    ['Kelvin sign', '\u212Aate'],
    ['NFD', 'jose\u0301'],
    ['zero-width space', 'bjensen\u200B'],
    ['soft hyphen', 'bjen\u00ADsen'],
    ['leading space', ' bjensen'],
    ['trailing space', 'bjensen '],
  ])('a %s userName → 400 invalidValue naming userName', async (_what, userName) => {
    const res = await c.call('POST', '/Users', user(userName));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ schemas: [ERROR], status: '400', scimType: 'invalidValue', detail: expect.stringContaining('userName') });
  });

  it('a non-canonical sign-in email → 400 invalidValue naming the email', async () => {
    const res = await c.call('POST', '/Users', user(`e-${tag()}`, work(`\u212Aate-${tag()}@example.com`)));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ scimType: 'invalidValue', detail: expect.stringContaining('email') });
  });

  it('mixed case and Turkish İ / i̇ collide (409 uniqueness), also through PUT; dotless ı is another name', async () => {
    const t = tag();
    const first = await c.call('POST', '/Users', user(`\u0130pek-${t}`));
    expect(first.statusCode).toBe(201);
    const decomposed = await c.call('POST', '/Users', user(`i\u0307PEK-${t}`));
    expect(decomposed.statusCode).toBe(409);
    expect(decomposed.json().scimType).toBe('uniqueness');
    const dotless = await c.call('POST', '/Users', user(`\u0131pek-${t}`));
    expect(dotless.statusCode).toBe(201);
    const renamed = await c.call('PUT', `/Users/${dotless.json().id}`, user(`\u0130PEK-${t}`));
    expect(renamed.statusCode).toBe(409);
    // Renaming a user to another case of its own name is fine.
    const recased = await c.call('PUT', `/Users/${first.json().id}`, user(`\u0130PEK-${t}`));
    expect(recased.statusCode, recased.body).toBe(200);
    expect(recased.json().userName).toBe(`\u0130PEK-${t}`);
  });

  it('userName filters and /Users/{userName} compare keys: any case finds the user, a look-alike finds nobody', async () => {
    const name = `Barbara-${tag()}`;
    const id = (await c.call('POST', '/Users', user(name))).json().id;
    const eq = (v: string) => c.call('GET', `/Users?filter=${encodeURIComponent(`userName eq "${v}"`)}`).then((r) => r.json().totalResults);
    expect(await eq(name.toUpperCase())).toBe(1);
    expect(await eq(`${name}\u200B`)).toBe(0);
    expect(await eq(name.replace('a', '\uFF41'))).toBe(0);
    expect((await c.call('GET', `/Users/${encodeURIComponent(name.toLowerCase())}`)).json().id).toBe(id);
    expect((await c.call('GET', `/Users/${encodeURIComponent(`${name}\u00AD`)}`)).statusCode).toBe(404);
  });
});
