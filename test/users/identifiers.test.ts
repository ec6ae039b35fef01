/**
 * Login identifiers (issue #9): one canonical form, one comparison key (RFC 8265 PRECIS UsernameCaseMapped as the
 * reference), through the rule itself and through `/api/users`: look-alike variants are refused (400) or collide
 * (409); a userName is never another user's email; emails alone may repeat only with distinct userNames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { users } from '../../src/db/schema/index.ts';
import { checkIdentifier } from '../../src/users/identifiers.ts';

const tag = () => Math.random().toString(36).slice(2, 8);

describe('the rule (users/identifiers.ts)', () => {
  it.each([
    ['fullwidth letters (U+FF41…)', 'ａｌｉｃｅ', /U\+FF41, a variant of "a"/],
    ['KELVIN SIGN U+212A', '\u212Aate@x.test', /U\+212A, a variant of "K"/],
    ['ANGSTROM SIGN U+212B', '\u212Bsa', /U\+212B/],
    ['NFD (e + U+0301)', 'jose\u0301', /Normalization Form C/],
    ['zero-width space U+200B', 'alice\u200B', /invisible character U\+200B/],
    ['soft hyphen U+00AD', 'al\u00ADice', /invisible character U\+00AD/],
    ['bidi override U+202E', 'ali\u202Ece', /invisible character U\+202E/],
    ['NUL', 'ali\u0000ce', /control character U\+0000/],
    ['a leading space', ' alice', /whitespace/],
    ['a trailing space', 'alice ', /whitespace/],
    ['a trailing no-break space', 'alice\u00A0', /whitespace/],
    ['two spaces in a row', 'ada  lovelace', /two spaces/],
    ['a non-ASCII symbol', 'ali☃ce', /not a letter, digit or combining mark/],
  ])('%s → refused', (_what, value, reason) => {
    const r = checkIdentifier(value, 'userName');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it.each([
    ['mixed case', 'Alice', 'alice'],
    ['NFC é', 'Jos\u00C9', 'jos\u00E9'],
    ['Turkish İ (U+0130) keys as i + U+0307, exactly as i̇ typed decomposed', '\u0130pek', 'i\u0307pek'],
    ['Turkish dotless ı stays a distinct letter', '\u0131pek', '\u0131pek'],
    ['single spaces between parts (RFC 8265 §3.3.1)', 'Ada Lovelace', 'ada lovelace'],
    ['German ß', 'Straße', 'straße'],
  ])('%s → accepted, key computed in TypeScript', (_what, value, key) => {
    expect(checkIdentifier(value, 'userName')).toEqual({ ok: true, key });
  });

  it('an email may hold no space at all', () => {
    expect(checkIdentifier('ada lovelace@x.test', 'email')).toMatchObject({ ok: false, reason: 'contains a space' });
  });

  it('no accepted non-ASCII character folds into ASCII: a key that is ASCII comes from an ASCII identifier', () => {
    const folding: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const r = checkIdentifier(`a${String.fromCodePoint(cp)}`, 'userName');
      if (r.ok && /^[\x00-\x7f]*$/.test(r.key)) folding.push(cp.toString(16));
    }
    expect(folding).toEqual([]);
  });
});

describe('/api/users', () => {
  let env: TestEnv;
  let api: Api;
  beforeAll(async () => {
    env = await testEnv();
    api = await apiFor(env, await env.newTenant());
  });
  afterAll(() => env.close());

  const post = (body: Record<string, unknown>) => api.call('POST', '/api/users', body);

  it.each([
    ['fullwidth', 'ａｄａ'],
    ['Kelvin sign', '\u212Aate'],
    ['NFD', 'jose\u0301'],
    ['zero-width space', 'ada\u200B'],
    ['soft hyphen', 'a\u00ADda'],
    ['leading and trailing spaces', ' ada '],
  ])('a %s userName → 400 problem naming userName; nothing stored', async (_what, userName) => {
    const e = email('bad');
    const res = await post({ email: e, userName });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, field: 'userName' });
    expect((await api.call('GET', `/api/users?email=${encodeURIComponent(e)}`)).json().items).toEqual([]);
  });

  it('mixed case and the Turkish İ collide with what they look like (409 userName); dotless ı does not', async () => {
    const t = tag();
    expect((await post({ email: email(), userName: `ipek-${t}` })).statusCode).toBe(201);
    const upper = await post({ email: email(), userName: `IPEK-${t}` });
    expect(upper.statusCode).toBe(409);
    expect(upper.json().field).toBe('userName');
    expect((await post({ email: email(), userName: `\u0130pek-${t}` })).statusCode).toBe(201);
    const decomposed = await post({ email: email(), userName: `i\u0307pek-${t}` });
    expect(decomposed.statusCode).toBe(409);
    expect(decomposed.json().field).toBe('userName');
    expect((await post({ email: email(), userName: `\u0131pek-${t}` })).statusCode).toBe(201);
  });

  it('the key is stored as TypeScript computes it (PostgreSQL never folds case for identifiers)', async () => {
    const created = (await post({ email: email(), userName: `\u0130STANBUL-${tag()}` })).json();
    const [row] = await forTenant(env.database.db, api.tenant.tenant.id).select(users, eq(users.id, created.id));
    expect(row!.userName).toBe(created.userName);
    expect(row!.userNameKey).toBe(created.userName.toLowerCase().normalize('NFC'));
    expect(row!.emailKey).toBe(created.email.toLowerCase());
  });

  it("a userName that is another user's email → 409 naming userName", async () => {
    const kate = email('kate');
    await post({ email: kate, userName: `kate-${tag()}` });
    const res = await post({ email: email('mallory'), userName: kate.toUpperCase() });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ field: 'userName', detail: expect.stringContaining("another user's email") });
  });

  it("an email (POST or PATCH) that is another user's userName → 409 naming email", async () => {
    const name = `${tag()}@login.example.com`;
    await post({ email: email(), userName: name });
    const created = await post({ email: name, userName: `other-${tag()}` });
    expect(created.statusCode).toBe(409);
    expect(created.json().field).toBe('email');
    const u = (await post({ email: email(), userName: `third-${tag()}` })).json();
    const patched = await api.call('PATCH', `/api/users/${u.id}`, { email: name });
    expect(patched.statusCode).toBe(409);
    expect(patched.json().field).toBe('email');
    expect((await api.call('GET', `/api/users/${u.id}`)).json().email).toBe(u.email);
  });

  it('emails are not unique, but /api/users refuses a duplicate whose userName defaults to it', async () => {
    const shared = email('shared');
    expect((await post({ email: shared, userName: `shared-one-${tag()}` })).statusCode).toBe(201);
    expect((await post({ email: shared, userName: `shared-two-${tag()}` })).statusCode).toBe(201);
    const byDefault = await post({ email: shared.toUpperCase() });
    expect(byDefault.statusCode).toBe(409);
    expect(byDefault.json().field).toBe('email');
    expect((await api.call('GET', `/api/users?email=${encodeURIComponent(shared)}`)).json().items).toHaveLength(2);
    // A user whose userName is the address (the default) keeps it to themselves.
    const own = email('own');
    expect((await post({ email: own })).statusCode).toBe(201);
    const second = await post({ email: own, userName: `own-two-${tag()}` });
    expect(second.statusCode).toBe(409);
    expect(second.json().field).toBe('email');
  });

  it("racing: one user named x and another with email x, created together → exactly one succeeds", async () => {
    for (let i = 0; i < 5; i++) {
      const x = email('race');
      const results = await Promise.all([post({ email: email(), userName: x }), post({ email: x, userName: `race-${tag()}` })]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    }
  });
});
