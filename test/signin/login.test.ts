/**
 * `POST /login` with a local password: generic failures, audited; backoff per (account, address) that never locks
 * the owner out from another address; a CSRF token bound to the sign-in transaction; cross-site posts refused.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { email } from '../support/api.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents } from '../../src/db/schema/index.ts';
import { createUser } from '../../src/users/service.ts';
import { systemActor } from '../../src/audit/service.ts';
import { readFeed } from '../../src/events/service.ts';

const PASSWORD = 'correct horse battery staple';
let env: TestEnv;
let t: TestTenant;
let login: string;
let userId: string;
/** A second account for the backoff test, whose counters no other test touches. */
let login2: string;
beforeAll(async () => {
  env = await testEnv({ AUTH_FAILURE_LIMIT: '3' });
  t = await env.newTenant();
  login = email('local');
  userId = (await createUser(forTenant(env.database.db, t.tenant.id), systemActor('test'), { email: login, password: PASSWORD })).id;
  login2 = email('backoff');
  await createUser(forTenant(env.database.db, t.tenant.id), systemActor('test'), { email: login2, password: PASSWORD });
});
afterAll(() => env.close());

/** The login form as a browser gets it: its transaction cookie and CSRF token. */
async function form(ip = '10.0.0.1') {
  const page = await env.app.inject({ url: '/login?return_to=%2Fafter', remoteAddress: ip, headers: { host: t.host } });
  return { cookie: /(iam_login=[^;]+)/.exec(String(page.headers['set-cookie']))![1]!, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

function post(fields: Record<string, string>, opts: { cookie?: string; ip?: string; headers?: Record<string, string> } = {}) {
  return env.app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: opts.ip ?? '10.0.0.1',
    headers: { host: t.host, 'content-type': 'application/x-www-form-urlencoded', ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers },
    payload: new URLSearchParams({ return_to: '/after', ...fields }).toString(),
  });
}

async function signIn(password: string, ip = '10.0.0.1', who = login) {
  const f = await form(ip);
  return post({ login: who, password, csrf: f.csrf }, { cookie: f.cookie, ip });
}

const audit = (action: string) => forTenant(env.database.db, t.tenant.id).select(auditEvents, eq(auditEvents.action, action));

it('a wrong password and an unknown account get the same generic answer; failures and the success are audited', async () => {
  const wrong = await signIn('not it', '10.1.0.1');
  const unknown = await signIn(PASSWORD, '10.1.0.1', 'nobody@example.com');
  for (const r of [wrong, unknown]) {
    expect(r.statusCode).toBe(401);
    expect(r.body).toContain('The email or password is not correct.');
    expect(r.headers['set-cookie'] ?? '').not.toContain('iam_session');
  }
  const failures = await audit('signin.failure');
  expect(failures.map((r) => [r.actorType, r.actorId, r.sourceIp, r.targetType, r.targetId]).sort()).toEqual(
    [
      ['system', 'signin', '10.1.0.1', 'login', login],
      ['system', 'signin', '10.1.0.1', 'login', 'nobody@example.com'],
    ].sort(),
  );
  const ok = await signIn(PASSWORD, '10.1.0.2');
  expect(ok.statusCode).toBe(303);
  expect(ok.headers.location).toBe('/after');
  expect(String(ok.headers['set-cookie'])).toMatch(/iam_session=/);
  const [success] = await audit('signin.success');
  expect(success).toMatchObject({ actorType: 'user', actorId: userId, sourceIp: '10.1.0.2', targetType: 'user', targetId: userId });
  // The sign-in is a security event in the feed, in its transaction; the failures wrote none.
  const scope = forTenant(env.database.db, t.tenant.id);
  const deadline = Date.now() + 20_000;
  let events: Awaited<ReturnType<typeof readFeed>>['items'] = [];
  while (!events.length && Date.now() < deadline) events = (await readFeed(scope, { types: ['session.*'] })).items;
  expect(events.map((e) => [e.type, e.data.userId, e.data.method])).toEqual([['session.created', userId, 'pwd']]);
  expect(isPublicSid(events[0]!.data.sid)).toBe(true);
});

/** A public session id: 16 bytes of the cookie's HMAC, base64url, never the cookie itself. */
const isPublicSid = (sid: unknown) => typeof sid === 'string' && /^[A-Za-z0-9_-]{22}$/.test(sid);

it('backoff: past the limit from one address that address waits, with Retry-After; the owner signs in from another', async () => {
  for (let i = 0; i < 3; i++) expect((await signIn('wrong-' + i, '10.2.0.1', login2)).statusCode).toBe(401);
  const blocked = await signIn(PASSWORD, '10.2.0.1', login2);
  expect(blocked.statusCode).toBe(429);
  expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  expect(blocked.body).toContain('Too many attempts');
  expect((await signIn(PASSWORD, '10.2.0.2', login2)).statusCode).toBe(303);
  const trips = await forTenant(env.database.db, t.tenant.id).select(auditEvents, and(eq(auditEvents.action, 'ratelimit.trip'), eq(auditEvents.targetId, login2)));
  expect(trips.map((r) => (r.after as { counter: string }).counter).sort()).toEqual(['credential', 'credential-address']);
});

it('CSRF: the token must be the one bound to this browser’s sign-in transaction', async () => {
  const mine = await form();
  const theirs = await form();
  expect((await post({ login, password: PASSWORD }, { cookie: mine.cookie })).statusCode).toBe(400);
  // An attacker's own (cookie, token) pair cannot be mixed with the victim's.
  expect((await post({ login, password: PASSWORD, csrf: theirs.csrf }, { cookie: mine.cookie })).statusCode).toBe(400);
  // A double-submit pair made up by the attacker (same value in cookie and form) is worthless.
  const madeUp = 'A'.repeat(22);
  expect((await post({ login, password: PASSWORD, csrf: madeUp }, { cookie: `iam_login=${madeUp}` })).statusCode).toBe(400);
  const refused = await post({ login, password: PASSWORD, csrf: mine.csrf });
  expect(refused.statusCode).toBe(400);
  expect(refused.body).toContain('Your sign-in form expired');
  expect((await post({ login, password: PASSWORD, csrf: mine.csrf }, { cookie: mine.cookie })).statusCode).toBe(303);
});

it('a sign-in form posted from another site is refused (Origin, Sec-Fetch-Site), even with a valid token', async () => {
  const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'null' }];
  for (const headers of crossSite) {
    const f = await form();
    const r = await post({ login, password: PASSWORD, csrf: f.csrf }, { cookie: f.cookie, headers });
    expect(r.statusCode, JSON.stringify(headers)).toBe(403);
    expect(r.headers['set-cookie'] ?? '').not.toContain('iam_session');
  }
  const f = await form();
  const same = await post({ login, password: PASSWORD, csrf: f.csrf }, { cookie: f.cookie, headers: { origin: `http://${t.host}`, 'sec-fetch-site': 'same-origin' } });
  expect(same.statusCode).toBe(303);
});

it('a login name with NUL (which PostgreSQL text cannot hold) is refused at the edge as a page, never a 500', async () => {
  const res = await signIn(PASSWORD, '10.3.0.1', `${login}\u0000`);
  expect(res.statusCode).toBe(400);
  expect(res.headers['content-type']).toContain('text/html');
});
