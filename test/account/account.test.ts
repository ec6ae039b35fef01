/**
 * `/account` (issue #14 item 4): the signed-in user's profile, organizations, sessions (end one, or all others),
 * linked identities (unlink, never the last way in) and password change (current password, policy, limiter; every
 * other session ends). Forms bound to the session (CSRF), cross-site posts refused; audit entries and feed events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents } from '../../src/db/schema/index.ts';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { identitiesRepository } from '../../src/users/identities.ts';
import { readFeed } from '../../src/events/service.ts';

const PASSWORD = 'correct horse battery staple';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0 Safari/537.36';
let env: TestEnv;
let t: TestTenant;
let api: Api;

beforeAll(async () => {
  env = await testEnv({ AUTH_FAILURE_LIMIT: '3' });
  t = await env.newTenant();
  api = await apiFor(env, t);
});
afterAll(() => env.close());

const scope = () => forTenant(env.database.db, t.tenant.id);

async function newUser(opts: { password?: string | undefined } = { password: PASSWORD }) {
  const address = email('acct');
  const user = await createUser(scope(), systemActor('test'), { email: address, ...(opts.password ? { password: opts.password } : {}) });
  return { id: user.id, email: address };
}

const cookieOf = (res: { headers: Record<string, unknown> }, name: string) => new RegExp(`${name}=([^;]+)`).exec(String(res.headers['set-cookie']))?.[1];

/** Signs in through /login as a browser does; the session cookie. */
async function signIn(login: string, password = PASSWORD, userAgent = FIREFOX, ip = '10.9.0.1'): Promise<string> {
  const form = await env.app.inject({ url: '/login?return_to=%2Faccount', remoteAddress: ip, headers: { host: t.host, 'user-agent': userAgent } });
  const res = await env.app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: ip,
    headers: { host: t.host, 'user-agent': userAgent, 'content-type': 'application/x-www-form-urlencoded', cookie: `iam_login=${cookieOf(form, 'iam_login')}` },
    payload: new URLSearchParams({ return_to: '/account', login, password, csrf: /name="csrf" value="([^"]+)"/.exec(form.body)![1]! }).toString(),
  });
  expect(res.statusCode, res.body).toBe(303);
  return cookieOf(res, 'iam_session')!;
}

const page = (session: string, url = '/account') => env.app.inject({ url, headers: { host: t.host, cookie: `iam_session=${session}` } });
const csrfOf = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)![1]!;

async function post(session: string, path: string, fields: Record<string, string>, opts: { csrf?: string | null; headers?: Record<string, string>; ip?: string } = {}) {
  const csrf = opts.csrf === undefined ? csrfOf((await page(session)).body) : opts.csrf;
  return env.app.inject({
    method: 'POST',
    url: path,
    remoteAddress: opts.ip ?? '10.9.0.1',
    headers: { host: t.host, cookie: `iam_session=${session}`, 'content-type': 'application/x-www-form-urlencoded', origin: `http://${t.host}`, 'sec-fetch-site': 'same-origin', ...opts.headers },
    payload: new URLSearchParams({ ...(csrf !== null ? { csrf } : {}), ...fields }).toString(),
  });
}

/** The sid of the session in the row that is not this browser's. */
const otherSidIn = (body: string) => /name="sid" value="([^"]+)"/.exec(body.split('<tr>').find((row) => row.includes('name="sid"') && !row.includes('(this browser)'))!)![1]!;
const sidsIn = (body: string) => [...body.matchAll(/name="sid" value="([^"]+)"/g)].map((m) => m[1]!);
const audit = async (action: string, userId: string) => (await scope().select(auditEvents, eq(auditEvents.action, action))).filter((r) => r.actorId === userId);

async function feed(types: string[], userId: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const items = (await readFeed(scope(), { types, limit: 500 })).items.filter((e) => e.data.userId === userId);
    if (items.length || Date.now() > deadline) return items;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the page', () => {
  it('without a session: to the sign-in page, coming back here', async () => {
    const res = await env.app.inject({ url: '/account', headers: { host: t.host } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/login?return_to=%2Faccount');
    expect((await page('not-a-session')).statusCode).toBe(303);
  });

  it('shows the profile, organizations and roles, sessions with their devices, identities and the password form; framing refused', async () => {
    const u = await newUser();
    const org = (await api.call('POST', '/api/organizations', { displayName: 'Acme Rockets' })).json();
    expect((await api.call('PUT', `/api/organizations/${org.id}/members/${u.id}`, { roles: ['admin'] })).statusCode).toBeLessThan(300);
    await identitiesRepository(scope()).link({ userId: u.id, providerType: 'AzureAd', providerId: 'hesehus', subject: 'entra-sub-1', email: u.email });
    await signIn(u.email, PASSWORD, CHROME, '10.9.0.2');
    const session = await signIn(u.email);
    const res = await page(session);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    for (const text of [u.email, 'Acme Rockets', 'admin', 'Firefox on Linux', 'Chrome on Windows', '(this browser)', '10.9.0.2', 'AzureAd', 'hesehus', 'Change password', 'Sign out of all other sessions (1)']) expect(res.body).toContain(text);
    expect(sidsIn(res.body)).toHaveLength(2);
  });

  it('another tenant\'s session is not a session here', async () => {
    const u = await newUser();
    const session = await signIn(u.email);
    const other = await env.newTenant();
    const res = await env.app.inject({ url: '/account', headers: { host: other.host, cookie: `iam_session=${session}` } });
    expect(res.statusCode).toBe(303);
  });
});

describe('sessions', () => {
  it('ends one other session: it stops working at once; audited; session.ended in the feed', async () => {
    const u = await newUser();
    const other = await signIn(u.email, PASSWORD, CHROME);
    const mine = await signIn(u.email);
    const body = (await page(mine)).body;
    const otherSid = otherSidIn(body);
    const res = await post(mine, '/account/sessions/end', { sid: otherSid! });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/account?done=ended');
    expect((await page(other)).statusCode).toBe(303);
    expect((await page(mine)).statusCode).toBe(200);
    expect((await page(mine, '/account?done=ended')).body).toContain('The session has ended.');
    expect((await audit('session.end', u.id))[0]).toMatchObject({ actorType: 'user', targetId: u.id, after: { sids: [otherSid] } });
    const ended = await feed(['session.ended'], u.id);
    expect(ended.map((e) => [e.data.sid, e.data.endedBy])).toEqual([[otherSid, 'user']]);
    // The same again: already ended, a 404 page, nothing else changes.
    expect((await post(mine, '/account/sessions/end', { sid: otherSid! })).statusCode).toBe(404);
    // Someone else's sid is no session of this user's.
    const stranger = await newUser();
    await signIn(stranger.email);
    const strangerSid = sidsIn((await page(await signIn(stranger.email))).body)[0]!;
    expect((await post(mine, '/account/sessions/end', { sid: strangerSid })).statusCode).toBe(404);
  });

  it('signs out of all other sessions; ending the current one signs this browser out', async () => {
    const u = await newUser();
    const a = await signIn(u.email, PASSWORD, CHROME);
    const b = await signIn(u.email, PASSWORD, CHROME);
    const mine = await signIn(u.email);
    expect((await post(mine, '/account/sessions/end-others', {})).headers.location).toBe('/account?done=ended-others');
    expect((await page(a)).statusCode).toBe(303);
    expect((await page(b)).statusCode).toBe(303);
    const body = (await page(mine)).body;
    expect(sidsIn(body)).toHaveLength(1);
    expect(body).not.toContain('Sign out of all other sessions');
    const res = await post(mine, '/account/sessions/end', { sid: sidsIn(body)[0]! });
    expect(res.headers.location).toBe('/signed-out');
    expect(String(res.headers['set-cookie'])).toMatch(/iam_session=;/);
    expect((await page(mine)).statusCode).toBe(303);
  });

  it('CSRF: no token, another session\'s token, or a post from another site changes nothing', async () => {
    const u = await newUser();
    const other = await signIn(u.email, PASSWORD, CHROME);
    const mine = await signIn(u.email);
    const foreign = csrfOf((await page(other)).body);
    for (const res of [
      await post(mine, '/account/sessions/end-others', {}, { csrf: null }),
      await post(mine, '/account/sessions/end-others', {}, { csrf: foreign }),
      await post(mine, '/account/sessions/end-others', {}, { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } }),
    ]) {
      expect([400, 403]).toContain(res.statusCode);
      expect(res.body).toContain('nothing was changed');
    }
    expect((await page(other)).statusCode).toBe(200);
  });
});

describe('linked identities', () => {
  it('unlinks one while a password remains; the last way in cannot be removed, even by a forged form', async () => {
    const withPassword = await newUser();
    await identitiesRepository(scope()).link({ userId: withPassword.id, providerType: 'Google', providerId: 'g1', subject: 'sub-a', email: withPassword.email });
    const session = await signIn(withPassword.email);
    const res = await post(session, '/account/identities/unlink', { providerType: 'Google', providerId: 'g1', subject: 'sub-a' });
    expect(res.headers.location).toBe('/account?done=unlinked');
    expect(await identitiesRepository(scope()).listForUser(withPassword.id)).toEqual([]);
    expect((await audit('user.identity.unlink', withPassword.id))).toHaveLength(1);

    // A user with no password and one identity: the page offers no button, and a crafted post is refused.
    const federated = await newUser({ password: undefined });
    await identitiesRepository(scope()).link({ userId: federated.id, providerType: 'Google', providerId: 'g1', subject: 'sub-b', email: federated.email });
    await identitiesRepository(scope()).link({ userId: federated.id, providerType: 'Auth0', providerId: 'a1', subject: 'sub-c', email: federated.email });
    // Signed in through a session made directly (no password to sign in with).
    const { createSession } = await import('../../src/signin/sessions.ts');
    const { cookie } = await scope().transaction((tx) => createSession(tx, env.keys, federated.id, 'upstream:Google:g1'));
    expect((await page(cookie)).body).toContain('aria-label="Unlink Auth0');
    expect((await post(cookie, '/account/identities/unlink', { providerType: 'Auth0', providerId: 'a1', subject: 'sub-c' })).statusCode).toBe(303);
    const body = (await page(cookie)).body;
    expect(body).toContain('Your only way to sign in');
    expect(body).not.toContain('Change password');
    const refused = await post(cookie, '/account/identities/unlink', { providerType: 'Google', providerId: 'g1', subject: 'sub-b' });
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('only way to sign in');
    expect(await identitiesRepository(scope()).listForUser(federated.id)).toHaveLength(1);
    // Someone else's identity is not this user's to unlink.
    expect((await post(session, '/account/identities/unlink', { providerType: 'Google', providerId: 'g1', subject: 'sub-b' })).statusCode).toBe(404);
  });
});

describe('password change', () => {
  it('needs the current password, the policy and the same new password twice; a wrong current password is limited', async () => {
    const u = await newUser();
    const session = await signIn(u.email);
    const change = (current: string, next: string, confirm = next, ip = '10.9.1.1') => post(session, '/account/password', { current_password: current, new_password: next, new_password_confirm: confirm }, { ip });
    const mismatch = await change(PASSWORD, 'a long and unusual passphrase', 'a long and unusual passphrasf');
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.body).toContain('differ');
    const common = await change(PASSWORD, 'password1234');
    expect(common.statusCode).toBe(400);
    expect(common.body).toContain('common password');
    const short = await change(PASSWORD, 'short');
    expect(short.statusCode).toBe(400);
    for (let i = 0; i < 3; i++) {
      const wrong = await change('not my password', 'a long and unusual passphrase');
      expect(wrong.statusCode).toBe(403);
      expect(wrong.body).toContain('current password is not correct');
    }
    const limited = await change(PASSWORD, 'a long and unusual passphrase');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    // Nothing changed meanwhile: the old password still signs in (from an address the limiter has not seen).
    expect(await signIn(u.email, PASSWORD, FIREFOX, '10.9.1.2')).toBeTruthy();
  });

  it('changes it: every other session ends, this browser continues in a new session, the old password is dead', async () => {
    const u = await newUser();
    const other = await signIn(u.email, PASSWORD, CHROME);
    const session = await signIn(u.email);
    const next = 'a long and unusual passphrase';
    const res = await post(session, '/account/password', { current_password: PASSWORD, new_password: next, new_password_confirm: next });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/account?done=password');
    const fresh = cookieOf(res, 'iam_session')!;
    expect(fresh).not.toBe(session);
    expect((await page(fresh)).statusCode).toBe(200);
    expect((await page(session)).statusCode).toBe(303);
    expect((await page(other)).statusCode).toBe(303);
    expect(await signIn(u.email, next, FIREFOX, '10.9.2.1')).toBeTruthy();
    const old = await env.app.inject({ url: '/login', headers: { host: t.host } });
    const refused = await env.app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: '10.9.2.2',
      headers: { host: t.host, 'content-type': 'application/x-www-form-urlencoded', cookie: `iam_login=${cookieOf(old, 'iam_login')}` },
      payload: new URLSearchParams({ return_to: '/', login: u.email, password: PASSWORD, csrf: csrfOf(old.body) }).toString(),
    });
    expect(refused.statusCode).toBe(401);
    expect((await audit('user.password.change', u.id))[0]).toMatchObject({ actorType: 'user', after: { by: 'self' } });
  });
});

describe('profile', () => {
  it('saves the name; NUL, control characters and overlong names are refused, never stored', async () => {
    const u = await newUser();
    const session = await signIn(u.email);
    expect((await post(session, '/account/profile', { displayName: '  Ada Lovelace  ' })).headers.location).toBe('/account?done=name');
    expect((await api.call('GET', `/api/users/${u.id}`)).json().fullName).toBe('Ada Lovelace');
    // NUL is refused at the edge (platform/input-guard.ts) before the form is read; other control characters here.
    expect((await post(session, '/account/profile', { displayName: 'Ada\u0000Byron' })).statusCode).toBe(400);
    const bell = await post(session, '/account/profile', { displayName: 'Ada\u0007Byron' });
    expect(bell.statusCode).toBe(400);
    expect(bell.body).toContain('control characters');
    const long = await post(session, '/account/profile', { displayName: 'x'.repeat(201) });
    expect(long.statusCode).toBe(400);
    expect(long.body).toContain('at most 200');
    expect((await api.call('GET', `/api/users/${u.id}`)).json().fullName).toBe('Ada Lovelace');
  });
});
