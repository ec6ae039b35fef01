/**
 * OpenID Connect RP-Initiated Logout 1.0 §2: without an id_token_hint for the signed-in user, the OP asks first, and
 * the confirmation (a POST form with a CSRF token bound to the session) cannot be forged from another site.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createUser } from '../../src/users/service.ts';
import { forTenant } from '../../src/platform/db.ts';
import { auditEvents, sessions } from '../../src/db/schema/index.ts';
import { bootstrapTokenHttp } from '../support/http.ts';
import { Browser, listeningEnv, type ListeningEnv } from '../support/oauth.ts';
import { systemActor } from '../../src/audit/service.ts';

const REDIRECT = 'https://app.example.com/callback';
const BYE = 'https://app.example.com/bye';
const PASSWORD = 'correct horse battery staple';
let env: ListeningEnv;
let config: client.Configuration;
const users: Record<'ada' | 'eve', string> = { ada: '', eve: '' };

beforeAll(async () => {
  env = await listeningEnv();
  const admin = await bootstrapTokenHttp(env.base, env.tenant);
  const res = await fetch(`${env.base}/api/downstream/InteractiveApplication/backoffice`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'Back office', allowedScopes: ['openid'], redirectUris: [REDIRECT], postLogoutRedirectUris: [BYE], clientSecret: 'b'.repeat(40) }),
  });
  expect(res.status).toBe(201);
  const scope = forTenant(env.database.db, env.tenant.tenant.id);
  for (const name of ['ada', 'eve'] as const) users[name] = (await createUser(scope, systemActor('test'), { email: `${name}@example.com`, password: PASSWORD })).id;
  config = await client.discovery(new URL(env.base), 'backoffice', 'b'.repeat(40), undefined, { execute: [client.allowInsecureRequests] });
});
afterAll(() => env.close());

/** Signs `who` in through /authorize and /login; returns the browser (with its session) and an ID token. */
async function signIn(who: 'ada' | 'eve'): Promise<{ browser: Browser; idToken: string }> {
  const browser = new Browser();
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const first = await browser.follow(url.toString(), (u) => u.startsWith('https://'));
  const posted = await browser.signIn(first.url, `${who}@example.com`, PASSWORD);
  const back = await browser.follow(new URL(posted.headers.get('location')!, env.base).toString(), (u) => !u.startsWith(env.base));
  const tokens = await client.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: client.skipStateCheck });
  return { browser, idToken: tokens.id_token! };
}

const liveSessions = (who: 'ada' | 'eve') => forTenant(env.database.db, env.tenant.tenant.id).count(sessions, and(eq(sessions.userId, users[who]), isNull(sessions.endedAt)));

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&');

/** Posts the end-session form as a browser would, with the given Fetch Metadata / Origin headers. */
function postLogout(browser: Browser, form: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${env.base}/oauth2/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

it('without an id_token_hint, GET /oauth2/logout asks first (a POST form) and signs no one out', async () => {
  const { browser } = await signIn('ada');
  const before = await liveSessions('ada');
  const res = await browser.request(`${env.base}/oauth2/logout?${new URLSearchParams({ client_id: 'backoffice', post_logout_redirect_uri: BYE, state: 's1' })}`);
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toMatch(/<form method="post" action="\/oauth2\/logout">/);
  expect(hidden(html, 'csrf')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(hidden(html, 'post_logout_redirect_uri')).toBe(BYE);
  // The form may end at the registered post-logout origin (CSP form-action also governs the redirect).
  expect(res.headers.get('content-security-policy')).toContain("form-action 'self' https://app.example.com;");
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(await liveSessions('ada')).toBe(before);
});

it('the confirmation signs out only with this session’s token and never from another site', async () => {
  const ada = await signIn('ada');
  const eve = await signIn('eve');
  const page = async (b: Browser) => (await b.request(`${env.base}/oauth2/logout?${new URLSearchParams({ client_id: 'backoffice', post_logout_redirect_uri: BYE, state: 's2' })}`)).text();
  const adaHtml = await page(ada.browser);
  const form = { csrf: hidden(adaHtml, 'csrf')!, client_id: hidden(adaHtml, 'client_id')!, post_logout_redirect_uri: BYE, state: hidden(adaHtml, 'state')! };
  const before = await liveSessions('ada');
  // A page on another site posting Ada's own form (say it learned the token) is refused by Fetch Metadata / Origin.
  const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }];
  for (const headers of crossSite) {
    expect((await postLogout(ada.browser, form, headers)).status).toBe(403);
  }
  // Eve's token does not end Ada's session; a made-up one neither.
  expect((await postLogout(ada.browser, { ...form, csrf: hidden(await page(eve.browser), 'csrf')! })).status).toBe(403);
  expect((await postLogout(ada.browser, { ...form, csrf: 'x'.repeat(43) })).status).toBe(403);
  // A POST without the token is just a logout request: it asks again.
  expect((await postLogout(ada.browser, { client_id: 'backoffice' })).status).toBe(200);
  expect(await liveSessions('ada')).toBe(before);

  const ok = await postLogout(ada.browser, form, { origin: env.base, 'sec-fetch-site': 'same-origin' });
  expect(ok.status).toBe(303);
  expect(ok.headers.get('location')).toBe(`${BYE}?state=s2`);
  expect(ok.headers.getSetCookie().join()).toMatch(/iam_session=; Max-Age=0/);
  expect(await liveSessions('ada')).toBe(before - 1);
  const [ended] = await forTenant(env.database.db, env.tenant.tenant.id).select(auditEvents, eq(auditEvents.action, 'session.end'), eq(auditEvents.actorId, users.ada));
  expect(ended).toMatchObject({ actorType: 'user', targetType: 'user', targetId: users.ada });
  expect(await liveSessions('eve')).toBeGreaterThan(0);
});

it('an id_token_hint for someone else (an attacker’s own ID token) does not sign the user out without asking', async () => {
  const ada = await signIn('ada');
  const eve = await signIn('eve');
  const before = await liveSessions('ada');
  const res = await ada.browser.request(`${env.base}/oauth2/logout?${new URLSearchParams({ id_token_hint: eve.idToken, post_logout_redirect_uri: BYE })}`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('Sign out?');
  expect(await liveSessions('ada')).toBe(before);
  // The user's own hint signs out at once (§2), to the registered URI.
  const own = await ada.browser.request(`${env.base}/oauth2/logout?${new URLSearchParams({ id_token_hint: ada.idToken, post_logout_redirect_uri: BYE })}`);
  expect(own.status).toBe(303);
  expect(own.headers.get('location')).toBe(BYE);
  expect(await liveSessions('ada')).toBe(before - 1);
});

it('the landing page’s sign-out button is such a form', async () => {
  const { browser } = await signIn('ada');
  const before = await liveSessions('ada');
  const home = await (await browser.request(`${env.base}/`)).text();
  expect(home).toContain('<form method="post" action="/oauth2/logout">');
  const res = await postLogout(browser, { csrf: hidden(home, 'csrf')! });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/signed-out');
  expect(await liveSessions('ada')).toBe(before - 1);
});
