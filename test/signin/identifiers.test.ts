/**
 * Sign-in and login identifiers (issue #9 item 4, #10 item 2), over real HTTP: the password form resolves the typed
 * identifier deterministically (userName first, then an email only one user has), and upstream sign-in links by the
 * canonical email key, never folding a non-ASCII address into an ASCII one, refusing an ambiguous email and a
 * colliding new user with a clear page; linking and its refusals are audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';
import { forTenant } from '../../src/platform/db.ts';
import { resolveLogin } from '../../src/users/login.ts';
import { scimClient, user, type ScimClient } from '../scim/support.ts';

let env: ListeningEnv;
let admin: string;
let entra: UpstreamIdp;
let scim: ScimClient;
const TID = '11111111-2222-3333-4444-666666666666';
const PASSWORD = 'correct horse battery staple';
const tag = () => Math.random().toString(36).slice(2, 8);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(env.base + path, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function createUser(body: Record<string, unknown>): Promise<{ id: string; userName: string; email: string }> {
  const res = await api('POST', '/api/users', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Signs in through the login form; the user id of the session, or undefined when refused. */
async function signIn(login: string, password = PASSWORD): Promise<string | undefined> {
  const browser = new Browser();
  const res = await browser.signIn(`${env.base}/login?return_to=%2F`, login, password);
  if (res.status !== 303) {
    expect(res.status).toBe(401);
    return undefined;
  }
  const home = await browser.follow(`${env.base}/`);
  const text = await home.res.text();
  const who = /Signed in as (.+?)(?: · |<)/.exec(text)?.[1];
  return who;
}

beforeAll(async () => {
  env = await listeningEnv({ AUTH_FAILURE_LIMIT: '10000' });
  admin = await bootstrapTokenHttp(env.base, env.tenant);
  scim = await scimClient(env, env.tenant);
  entra = await startUpstreamIdp({ kind: 'entra', tid: TID, redirectUris: [`${env.base}/signin-azureadstrict`, `${env.base}/signin-azureadopen`] });
  const common = { clientId: entra.clientId, clientSecret: entra.clientSecret, tenantId: TID, defaultUserRoles: [], discoveryUrl: entra.discoveryUrl };
  for (const [id, trustAllUsers] of [['strict', false], ['open', true]] as const) {
    const r = await api('PUT', `/api/upstream/AzureAd/${id}`, { displayName: `Entra ${id}`, trustAllUsers, ...common });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  }
});
afterAll(async () => {
  await entra?.close();
  await env.close();
});

describe('password sign-in (/login)', () => {
  it('by userName or by an email one user has: any letter case and surrounding spaces are fine', async () => {
    const t = tag();
    const u = await createUser({ email: `ada-${t}@example.com`, userName: `Ada-${t}`, fullName: `Ada ${t}`, password: PASSWORD });
    expect(await signIn(`ada-${t}`)).toBe(`Ada ${t}`);
    expect(await signIn(`  ADA-${t}@EXAMPLE.COM `)).toBe(`Ada ${t}`);
    expect(await signIn(u.userName, 'wrong password')).toBeUndefined();
  });

  it.each([
    ['fullwidth', (s: string) => s.replace('a', '\uFF41')],
    ['zero-width space', (s: string) => `${s}\u200B`],
    ['soft hyphen', (s: string) => s.replace('-', '\u00AD-')],
    ['NFD', (s: string) => s.replace('\u00E9', 'e\u0301')],
    ['Kelvin sign', (s: string) => s.replace('k', '\u212A')],
  ])('a %s variant of the identifier does not sign in', async (_what, variant) => {
    const t = tag();
    await createUser({ email: `kate-${t}@example.com`, userName: `kat\u00E9-${t}`, fullName: `Kate ${t}`, password: PASSWORD });
    expect(await signIn(`kat\u00E9-${t}`)).toBe(`Kate ${t}`);
    expect(await signIn(variant(`kat\u00E9-${t}`))).toBeUndefined();
  });

  it('Turkish İ: the dotted capital and i + U+0307 are one identifier; dotless ı is not', async () => {
    const t = tag();
    await createUser({ email: `ipek-${t}@example.com`, userName: `\u0130pek-${t}`, fullName: `Ipek ${t}`, password: PASSWORD });
    expect(await signIn(`i\u0307PEK-${t}`)).toBe(`Ipek ${t}`);
    expect(await signIn(`\u0131pek-${t}`)).toBeUndefined();
    expect(await signIn(`ipek-${t}`)).toBeUndefined();
  });

  it('an email two users share signs in neither: each signs in with their userName', async () => {
    const t = tag();
    const shared = `team-${t}@example.com`;
    await createUser({ email: shared, userName: `one-${t}`, fullName: `One ${t}`, password: PASSWORD });
    await createUser({ email: shared, userName: `two-${t}`, fullName: `Two ${t}`, password: PASSWORD });
    expect(await signIn(shared)).toBeUndefined();
    expect(await signIn(`one-${t}`)).toBe(`One ${t}`);
    expect(await signIn(`two-${t}`)).toBe(`Two ${t}`);
    expect(await resolveLogin(forTenant(env.database.db, env.tenant.tenant.id), shared)).toBeUndefined();
  });

  it("issue #9: nobody can take another user's email as userName and sign in as them with their own password", async () => {
    const t = tag();
    await createUser({ email: `victim-${t}@example.com`, userName: `victim-${t}`, fullName: `Victim ${t}`, password: PASSWORD });
    const res = await api('POST', '/api/users', { email: `mallory-${t}@example.com`, userName: `VICTIM-${t}@example.com`, password: 'mallory password' });
    expect(res.status).toBe(409);
    expect(await signIn(`victim-${t}@example.com`, 'mallory password')).toBeUndefined();
    expect(await signIn(`victim-${t}@example.com`)).toBe(`Victim ${t}`);
  });
});

describe('upstream sign-in: linking by email', () => {
  /** Upstream sign-in through the real IdP; the final page's status and text. */
  async function upstream(provider: 'strict' | 'open', account: { sub: string; email: string; email_verified?: boolean }) {
    entra.nextLogin({ email_verified: true, tid: TID, name: account.sub, ...account });
    const done = await new Browser().follow(`${env.base}/login/upstream/AzureAd/${provider}?return_to=%2F`);
    return { status: done.res.status, text: await done.res.text() };
  }
  const identities = async (userId: string) => (await api('GET', `/api/users/${userId}/identities`)).body as unknown[];
  const audit = async (action: string) => (await api('GET', `/api/audit?action=${action}`)).body.items as { actor: { id: string }; sourceIp: string | null; target: { type: string; id: string }; after: Record<string, unknown> }[];

  it('a verified email one user has links that user (audited: actor, address, outcome)', async () => {
    const t = tag();
    const u = await createUser({ email: `link-${t}@example.com`, fullName: `Link ${t}` });
    const res = await upstream('strict', { sub: `sub-link-${t}`, email: `LINK-${t}@example.com` });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`Signed in as Link ${t}`);
    expect(await identities(u.id)).toEqual([expect.objectContaining({ subject: `sub-link-${t}` })]);
    expect((await audit('user.identity.link')).find((e) => e.target.id === u.id)).toMatchObject({
      actor: { id: 'upstream:AzureAd:strict' },
      sourceIp: '127.0.0.1',
      after: { subject: `sub-link-${t}`, matchedBy: 'email', outcome: 'linked' },
    });
  });

  it('surrounding spaces and another letter case in the upstream address still link the one user', async () => {
    const t = tag();
    const u = await createUser({ email: `spaced-${t}@example.com` });
    expect((await upstream('strict', { sub: `sub-spaced-${t}`, email: `  Spaced-${t}@EXAMPLE.com ` })).status).toBe(200);
    expect(await identities(u.id)).toEqual([expect.objectContaining({ subject: `sub-spaced-${t}` })]);
  });

  it('non-ASCII addresses (provisioned by SCIM): Turkish İ links its i + U+0307 spelling, never plain i; NFD is refused', async () => {
    const t = tag();
    const provision = async (userName: string, address: string) => {
      const res = await scim.call('POST', '/Users', user(userName, { emails: [{ value: address, type: 'work', primary: true }] }));
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    const ipek = await provision(`ipek-${t}`, `\u0130pek-${t}@example.com`);
    expect((await upstream('strict', { sub: `sub-ascii-i-${t}`, email: `ipek-${t}@example.com` })).status).toBe(403);
    expect(await identities(ipek)).toEqual([]);
    expect((await upstream('strict', { sub: `sub-dotted-${t}`, email: `i\u0307pek-${t}@example.com` })).status).toBe(200);
    expect(await identities(ipek)).toEqual([expect.objectContaining({ subject: `sub-dotted-${t}` })]);

    const jose = await provision(`jose-${t}`, `jos\u00E9-${t}@example.com`);
    const nfd = await upstream('strict', { sub: `sub-nfd-${t}`, email: `jose\u0301-${t}@example.com` });
    expect(nfd.status).toBe(403);
    expect(nfd.text).toContain('cannot be used here');
    expect(await identities(jose)).toEqual([]);
  });

  it.each([
    ['KELVIN SIGN', (e: string) => e.replace('k', '\u212A')],
    ['fullwidth letter', (e: string) => e.replace('k', '\uFF4B')],
    ['zero-width space', (e: string) => e.replace('@', '\u200B@')],
    ['soft hyphen', (e: string) => e.replace('@', '\u00AD@')],
  ])('a %s address never folds into the ASCII one: refused with a clear page, audited, nothing linked', async (_what, variant) => {
    const t = tag();
    const kate = await createUser({ email: `kate-${t}@example.com`, fullName: `Kate ${t}` });
    const res = await upstream('open', { sub: `sub-kelvin-${t}`, email: variant(`kate-${t}@example.com`) });
    expect(res.status).toBe(403);
    expect(res.text).toContain('cannot be used here');
    expect(await identities(kate.id)).toEqual([]);
    expect((await audit('user.identity.link.refused')).find((e) => e.after.subject === `sub-kelvin-${t}`)).toMatchObject({
      sourceIp: '127.0.0.1',
      after: { outcome: 'refused', reason: 'invalid-email' },
    });
  });

  it('an email several users have is refused with a clear message and an audit entry; nobody is linked', async () => {
    const t = tag();
    const shared = `twins-${t}@example.com`;
    const one = await createUser({ email: shared, userName: `twin-one-${t}` });
    const two = await createUser({ email: shared, userName: `twin-two-${t}` });
    const res = await upstream('open', { sub: `sub-twins-${t}`, email: shared });
    expect(res.status).toBe(403);
    expect(res.text).toContain('More than one account here has your email address');
    expect([...(await identities(one.id)), ...(await identities(two.id))]).toEqual([]);
    expect((await audit('user.identity.link.refused')).find((e) => e.after.subject === `sub-twins-${t}`)).toMatchObject({
      actor: { id: 'upstream:AzureAd:open' },
      sourceIp: '127.0.0.1',
      target: { type: 'upstream', id: 'AzureAd/open' },
      after: { email: shared, outcome: 'refused', reason: 'ambiguous-email' },
    });
  });

  it('trustAllUsers: a new user whose userName would collide with an existing one gets a clear page, not a 500', async () => {
    const t = tag();
    // The existing user is named by the address but has another email, so linking by email finds nobody.
    const existing = await createUser({ email: `elsewhere-${t}@example.com`, userName: `taken-${t}@example.com` });
    const res = await upstream('open', { sub: `sub-taken-${t}`, email: `taken-${t}@example.com` });
    expect(res.status).toBe(403);
    expect(res.text).toContain('already exists here');
    expect(await identities(existing.id)).toEqual([]);
    expect((await api('GET', `/api/users?email=${encodeURIComponent(`taken-${t}@example.com`)}`)).body.items).toEqual([]);
    expect((await audit('user.identity.link.refused')).find((e) => e.after.subject === `sub-taken-${t}`)).toMatchObject({ after: { reason: 'conflict' } });
  });

  it('trustAllUsers: a new address creates the user as sent (case kept) and audits the link', async () => {
    const t = tag();
    const res = await upstream('open', { sub: `sub-new-${t}`, email: `New.Person-${t}@Example.com` });
    expect(res.status).toBe(200);
    const [created] = (await api('GET', `/api/users?email=${encodeURIComponent(`new.person-${t}@example.com`)}`)).body.items;
    expect(created).toMatchObject({ userName: `New.Person-${t}@Example.com`, email: `New.Person-${t}@Example.com` });
    expect((await audit('user.identity.link')).find((e) => e.target.id === created.id)).toMatchObject({ after: { matchedBy: 'created', outcome: 'linked' } });
  });
});
