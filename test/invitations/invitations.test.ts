/**
 * Invitations (issue #14 item 2): `/api/organizations/{id}/invitations` and the accept page, from the email the SMTP
 * sink received to a signed-in member; expiry, resend, revoke, replay of a used link, CSRF, wrong organization and
 * tenant, hostile input, abuse limits, STACKIT's sendInvitation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, email, type Api } from '../support/api.ts';
import { smtpSink, type SmtpSink } from '../support/smtp.ts';
import { forTenant } from '../../src/platform/db.ts';
import { invitationRequests, invitations } from '../../src/db/schema/index.ts';
import { membershipOf } from '../../src/organizations/service.ts';
import { MAX_SENDS } from '../../src/invitations/service.ts';
import { linkIn, openLink, submit, tokenOf } from './support.ts';
import { NOTIFICATIONS, scimClient, USER } from '../scim/support.ts';

let sink: SmtpSink;
let env: TestEnv;
let api: Api;
let other: Api;
const GOOD_PASSWORD = 'a long and unusual passphrase';

beforeAll(async () => {
  sink = await smtpSink();
  env = await testEnv({ SMTP_URL: sink.url }, { mailQueue: `mail.send.${randomBytes(4).toString('hex')}` });
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(async () => {
  await env.close();
  await sink.close();
});

const host = () => api.tenant.host;
const scope = () => forTenant(env.database.db, api.tenant.tenant.id);
const newOrg = async (a: Api = api, displayName = 'Acme Corporation') => (await a.call('POST', '/api/organizations', { displayName })).json().id as string;
const invite = (org: string, body: Record<string, unknown>, a: Api = api) => a.call('POST', `/api/organizations/${org}/invitations`, body);

/** Runs the mail queue; the messages received meanwhile, addressed to `to`. */
async function deliveredTo(to: string) {
  await env.app.services.jobs.runQueued(env.app.services.mailer.queueName);
  return sink.messages.filter((m) => (m.to as { value: { address: string }[] }).value.some((v) => v.address === to));
}

async function invited(org: string, body: Record<string, unknown> = {}) {
  const address = (body.email as string | undefined) ?? email('invitee');
  const res = await invite(org, { email: address, roles: ['member'], ...body });
  expect(res.statusCode, res.body).toBe(201);
  const mails = await deliveredTo(address);
  return { invitation: res.json(), address, mails, token: mails.length ? tokenOf(linkIn(mails.at(-1)!)) : undefined };
}

/** Opens the link and submits the form as a browser would (same origin, the page's cookie and token). */
async function accept(token: string, fields: Record<string, string> = {}) {
  const page = await openLink(env, host(), token);
  expect(page.res.statusCode, page.res.body).toBe(200);
  return submit(env, host(), { token, csrf: page.csrf!, ...fields }, { cookies: page.cookies, headers: { origin: `http://${host()}`, 'sec-fetch-site': 'same-origin' } });
}

const auditActions = async (targetId: string) =>
  (await api.call('GET', `/api/audit?targetType=invitation&targetId=${targetId}`)).json().items.map((e: { action: string }) => e.action);

describe('invite → email → accept → signed-in member', () => {
  it('creates the user and a pending membership, emails a single-use link, and accepting with a new password signs the member in', async () => {
    const org = await newOrg();
    const { invitation, address, mails, token } = await invited(org, { roles: ['member', 'billing'] });
    expect(invitation).toMatchObject({ organizationId: org, email: address, roles: ['billing', 'member'], status: 'pending', expiresInDays: 7, sendCount: 1 });
    expect(invitation.acceptUrl).toBeUndefined();
    expect(Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)).toBe(7 * 86_400_000);

    // The user exists, with no password yet; the membership is pending and grants nothing.
    const user = (await api.call('GET', `/api/users/${invitation.userId}`)).json();
    expect(user).toMatchObject({ email: address, passwordSet: false });
    expect((await api.call('GET', `/api/organizations/${org}/members/${invitation.userId}`)).json()).toMatchObject({ status: 'pending', roles: ['billing', 'member'] });
    expect(await membershipOf(scope(), org, invitation.userId)).toBeUndefined();

    // The email: one, to the invitee, naming the organization and the tenant, with the link on this tenant's issuer.
    expect(mails.length).toBe(1);
    expect(mails[0]!.subject).toBe(`Invitation to join Acme Corporation on ${api.tenant.tenant.displayName}`);
    const link = linkIn(mails[0]!);
    expect(link.startsWith(`${api.tenant.tenant.issuer}/invitations/accept?token=`)).toBe(true);
    expect(mails[0]!.html).toContain(link);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only the token's HMAC is stored.
    const [row] = await scope().select(invitations, eq(invitations.id, invitation.id));
    expect(row!.tokenHash.length).toBe(32);
    expect(JSON.stringify(row)).not.toContain(token!);

    // The page: shown by GET without using the link up, never cached, no Referer leaks the token.
    const page = await openLink(env, host(), token!);
    expect(page.res.statusCode).toBe(200);
    expect(page.res.headers['cache-control']).toBe('no-store');
    expect(page.res.headers['referrer-policy']).toBe('same-origin');
    expect(page.res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.res.body).toContain('Acme Corporation');
    expect(page.res.body).toContain('<label for="password">');
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(200);

    const res = await accept(token!, { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/');
    const session = (res.cookies as { name: string; value: string }[]).find((c) => c.name === 'iam_session');
    expect(session?.value).toBeTruthy();
    const home = await env.app.inject({ method: 'GET', url: '/', headers: { host: host(), cookie: `iam_session=${session!.value}` } });
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain(`Signed in as ${address}`);

    // Member now, with the invited roles; the address counts as verified; the password works at /login's check.
    expect(await membershipOf(scope(), org, invitation.userId)).toEqual({ organizationId: org, roles: ['billing', 'member'] });
    expect((await api.call('GET', `/api/users/${invitation.userId}`)).json()).toMatchObject({ passwordSet: true, emailVerified: true });
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${invitation.id}`)).json()).toMatchObject({ status: 'accepted' });
    expect(await auditActions(invitation.id)).toEqual(['invitation.accept', 'invitation.create']);
  });

  it('a used link cannot be replayed: GET and POST answer 410, and nothing changes', async () => {
    const org = await newOrg();
    const { token, invitation } = await invited(org);
    const page = await openLink(env, host(), token!);
    const form = { token: token!, csrf: page.csrf!, password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD };
    const headers = { origin: `http://${host()}` };
    expect((await submit(env, host(), form, { cookies: page.cookies, headers })).statusCode).toBe(303);
    const replay = await submit(env, host(), { ...form, password: 'another unusual passphrase', password_confirm: 'another unusual passphrase' }, { cookies: page.cookies, headers });
    expect(replay.statusCode).toBe(410);
    expect(replay.body).toContain('already been accepted');
    expect(replay.headers['set-cookie'] ?? '').not.toContain('iam_session=');
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(410);
    expect(await auditActions(invitation.id)).toEqual(['invitation.accept', 'invitation.create']);
  });

  it('concurrent acceptances of one link: exactly one wins', async () => {
    const org = await newOrg();
    const { token } = await invited(org);
    const page = await openLink(env, host(), token!);
    const form = { token: token!, csrf: page.csrf!, password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD };
    const results = await Promise.all(Array.from({ length: 4 }, () => submit(env, host(), form, { cookies: page.cookies })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([303, 410, 410, 410]);
  });

  it('passwords: at least 12 characters, the two must match, common ones and the address itself are refused; each refusal keeps the link usable', async () => {
    const org = await newOrg();
    const { token, address, invitation } = await invited(org);
    for (const [password, confirm, message] of [
      ['short pass', 'short pass', 'at least 12 characters'],
      [GOOD_PASSWORD, 'something else entirely', 'not the same'],
      ['password1234', 'password1234', 'most common passwords'],
      ['qwertyuiop123456', 'qwertyuiop123456', 'common password with characters added'],
      [`${address}!`, `${address}!`, 'contains your email address'],
    ] as const) {
      const res = await accept(token!, { password, password_confirm: confirm });
      expect(res.statusCode, password).toBe(400);
      expect(res.body, password).toContain(message);
    }
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${invitation.id}`)).json().status).toBe('pending');
    expect((await accept(token!, { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD })).statusCode).toBe(303);
  });

  it('CSRF: no cookie, a token for another invitation, or a cross-site post is refused', async () => {
    const org = await newOrg();
    const a = await invited(org);
    const b = await invited(org);
    const pageA = await openLink(env, host(), a.token!);
    const pageB = await openLink(env, host(), b.token!);
    const fields = { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD };
    expect((await submit(env, host(), { token: a.token!, csrf: pageA.csrf!, ...fields })).statusCode).toBe(400);
    // B's form token with A's link, in B's browser.
    expect((await submit(env, host(), { token: a.token!, csrf: pageB.csrf!, ...fields }, { cookies: pageB.cookies })).statusCode).toBe(400);
    const cross = await submit(env, host(), { token: a.token!, csrf: pageA.csrf!, ...fields }, { cookies: pageA.cookies, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(cross.statusCode).toBe(403);
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${a.invitation.id}`)).json().status).toBe('pending');
  });

  it('an existing user with a password is not offered a new one: accepting sends them to sign in', async () => {
    const org = await newOrg();
    const address = email('existing');
    const user = (await api.call('POST', '/api/users', { email: address, password: 'existing users own password' })).json();
    const { invitation, token } = await invited(org, { email: address });
    expect(invitation.userId).toBe(user.id);
    const page = await openLink(env, host(), token!);
    expect(page.res.body).not.toContain('name="password"');
    // A password smuggled into the form is ignored.
    const res = await submit(env, host(), { token: token!, csrf: page.csrf!, password: 'attacker chosen password' }, { cookies: page.cookies });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/login?return_to=%2F&login_hint=${encodeURIComponent(address)}`);
    expect(await membershipOf(scope(), org, user.id)).toEqual({ organizationId: org, roles: ['member'] });
    const login = await env.app.inject({ method: 'GET', url: '/login', headers: { host: host() } });
    const loginCsrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const loginCookie = (login.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');
    const attempt = (password: string) =>
      env.app.inject({ method: 'POST', url: '/login', headers: { host: host(), cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ login: address, password, csrf: loginCsrf, return_to: '/' }).toString() });
    expect((await attempt('attacker chosen password')).statusCode).toBe(401);
    expect((await attempt('existing users own password')).statusCode).toBe(303);
  });

  it("an address in a verified domain of an organization with an active SSO connection continues with that connection", async () => {
    const org = await newOrg(api, 'SSO Org');
    const domain = `sso-${randomBytes(4).toString('hex')}.example`;
    const d = await api.call('POST', `/api/organizations/${org}/domains`, { domain });
    expect((await api.call('POST', `/api/organizations/${org}/domains/${d.json().id}/mark-verified`, {})).statusCode).toBe(200);
    const c = (await api.call('POST', `/api/organizations/${org}/connections`, { type: 'oidc', displayName: 'Okta', clientSecret: 's3cret', settings: { issuer: 'https://sso-org.okta.example', clientId: 'client-1' } })).json();
    expect((await api.call('POST', `/api/connections/${c.id}/activate`, {})).statusCode).toBe(200);

    const { token, invitation } = await invited(org, { email: `ada@${domain}` });
    const page = await openLink(env, host(), token!);
    expect(page.res.body).toContain('continue with single sign-on');
    expect(page.res.body).not.toContain('name="password"');
    const res = await submit(env, host(), { token: token!, csrf: page.csrf! }, { cookies: page.cookies });
    expect(res.statusCode).toBe(200);
    const href = /class="button" href="([^"]+)"/.exec(res.body)![1]!.replace(/&amp;/g, '&');
    const start = new URL(href, 'http://x');
    expect(start.pathname).toBe(`/sso/oidc/${c.id}/start`);
    expect(start.searchParams.get('login_hint')).toBe(`ada@${domain}`);
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${invitation.id}`)).json().status).toBe('accepted');
    expect(await membershipOf(scope(), org, invitation.userId)).toEqual({ organizationId: org, roles: ['member'] });
  });
});

/** The feed's invitation events about `id`, oldest first, as `type:status`. */
const feedOf = async (id: string) =>
  (await api.call('GET', '/api/events?types=invitation.*&limit=500')).json().items
    .filter((e: { data: { id: string } }) => e.data.id === id)
    .map((e: { type: string; data: { status: string } }) => `${e.type}:${e.data.status}`);

describe('expiry, resend, revoke', () => {
  it('an expired invitation: the link is 410, the list says expired; a resend sends a new link (the old one dies) and it is pending again', async () => {
    const org = await newOrg();
    const { invitation, token, address } = await invited(org, { expiresInDays: 1 });
    expect(Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)).toBe(86_400_000);
    await scope().update(invitations, { expiresAt: new Date(Date.now() - 1000) }, eq(invitations.id, invitation.id));
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(410);
    expect((await openLink(env, host(), token!)).res.body).toContain('expired');
    expect((await api.call('GET', `/api/organizations/${org}/invitations?status=expired`)).json().items.map((i: { id: string }) => i.id)).toEqual([invitation.id]);
    expect((await api.call('GET', `/api/organizations/${org}/invitations?status=pending`)).json().items).toEqual([]);
    // Still open: inviting the address again is 409 (resend it instead), never a 500.
    expect((await invite(org, { email: address })).statusCode).toBe(409);

    const resent = await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`);
    expect(resent.statusCode, resent.body).toBe(200);
    expect(resent.json()).toMatchObject({ status: 'pending', sendCount: 2 });
    const mails = await deliveredTo(address);
    expect(mails.length).toBe(2);
    const fresh = tokenOf(linkIn(mails[1]!));
    expect(fresh).not.toBe(token);
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(404);
    expect((await accept(fresh, { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD })).statusCode).toBe(303);
    expect(await auditActions(invitation.id)).toEqual(['invitation.accept', 'invitation.resend', 'invitation.create']);
    expect(await feedOf(invitation.id)).toEqual(['invitation.created:pending', 'invitation.resent:pending', 'invitation.accepted:accepted']);
  });

  it('resending a pending invitation replaces its link too', async () => {
    const org = await newOrg();
    const { invitation, token, address } = await invited(org);
    expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`)).statusCode).toBe(200);
    const fresh = tokenOf(linkIn((await deliveredTo(address)).at(-1)!));
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(404);
    expect((await openLink(env, host(), fresh)).res.statusCode).toBe(200);
  });

  it('revoking: the link dies, the pending membership goes, the user stays; revoke or resend again is 409', async () => {
    const org = await newOrg();
    const { invitation, token } = await invited(org);
    const revoked = await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/revoke`);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked' });
    expect((await api.call('GET', `/api/organizations/${org}/members/${invitation.userId}`)).statusCode).toBe(404);
    expect((await api.call('GET', `/api/users/${invitation.userId}`)).statusCode).toBe(200);
    const page = await openLink(env, host(), token!);
    expect(page.res.statusCode).toBe(410);
    expect(page.res.body).toContain('withdrawn');
    expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/revoke`)).statusCode).toBe(409);
    expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`)).statusCode).toBe(409);
    expect(await auditActions(invitation.id)).toEqual(['invitation.revoke', 'invitation.create']);
    expect(await feedOf(invitation.id)).toEqual(['invitation.created:pending', 'invitation.revoked:revoked']);
    const [revokedEvent] = (await api.call('GET', '/api/events?types=invitation.revoked&limit=500')).json().items.filter((e: { data: { id: string } }) => e.data.id === invitation.id);
    expect(revokedEvent.organizationId).toBe(org);
    // Invited again afterwards: a new invitation and a new pending membership.
    expect((await invite(org, { email: invitation.email })).statusCode).toBe(201);
  });

  it('an accepted invitation can be neither resent nor revoked', async () => {
    const org = await newOrg();
    const { invitation, token } = await invited(org);
    await accept(token!, { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD });
    expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`)).statusCode).toBe(409);
    expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/revoke`)).statusCode).toBe(409);
    expect((await api.call('GET', `/api/organizations/${org}/members/${invitation.userId}`)).json().status).toBe('active');
  });

  it(`abuse limit: an invitation is emailed at most ${MAX_SENDS} times (429 after)`, async () => {
    const org = await newOrg();
    const { invitation } = await invited(org);
    for (let i = 2; i <= MAX_SENDS; i++) expect((await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`)).statusCode).toBe(200);
    const over = await api.call('POST', `/api/organizations/${org}/invitations/${invitation.id}/resend`);
    expect(over.statusCode).toBe(429);
    expect(over.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('the API', () => {
  it('send: false answers the link once (no-store) and sends nothing', async () => {
    const org = await newOrg();
    const address = email('manual');
    const res = await invite(org, { email: address, send: false });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ sendCount: 0, lastSentAt: null });
    expect(await deliveredTo(address)).toEqual([]);
    const { acceptUrl } = res.json();
    expect(acceptUrl.startsWith(`${api.tenant.tenant.issuer}/invitations/accept?token=`)).toBe(true);
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${res.json().id}`)).body).not.toContain(tokenOf(acceptUrl));
    expect((await openLink(env, host(), tokenOf(acceptUrl))).res.statusCode).toBe(200);
  });

  it('lists with status and pages with a cursor', async () => {
    const org = await newOrg();
    const created = [];
    for (let i = 0; i < 3; i++) created.push((await invite(org, { email: email('list'), send: false })).json().id);
    const first = (await api.call('GET', `/api/organizations/${org}/invitations?limit=2`)).json();
    expect(first.items.map((i: { id: string }) => i.id)).toEqual(created.slice(0, 2));
    const second = (await api.call('GET', `/api/organizations/${org}/invitations?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second).toMatchObject({ items: [{ id: created[2] }], nextCursor: null });
    await api.call('POST', `/api/organizations/${org}/invitations/${created[1]}/revoke`);
    expect((await api.call('GET', `/api/organizations/${org}/invitations?status=revoked`)).json().items.map((i: { id: string }) => i.id)).toEqual([created[1]]);
    expect((await api.call('GET', `/api/organizations/${org}/invitations?status=pending`)).json().items.length).toBe(2);
    expect((await api.call('GET', `/api/organizations/${org}/invitations?status=bogus`)).statusCode).toBe(400);
    expect((await api.call('GET', `/api/organizations/${org}/invitations?cursor=not-a-cursor`)).statusCode).toBe(400);
  });

  it('409 for an active member or an address with a pending invitation', async () => {
    const org = await newOrg();
    const user = (await api.call('POST', '/api/users', { email: email('member') })).json();
    await api.call('PUT', `/api/organizations/${org}/members/${user.id}`, { roles: [] });
    const member = await invite(org, { email: user.email });
    expect(member.statusCode).toBe(409);
    expect(member.json().detail).toContain('already a member');
    const { invitation } = await invited(org);
    const again = await invite(org, { email: invitation.email });
    expect(again.statusCode).toBe(409);
    expect(again.json().invitationId).toBe(invitation.id);
  });

  it('hostile input: malformed or oversized email, expiry out of 1–30, bad roles, unknown fields, malformed JSON → 400, never 500', async () => {
    const org = await newOrg();
    for (const body of [
      { email: 'not-an-email' },
      { email: 'a@b@example.com' },
      { email: `${'x'.repeat(320)}@example.com` },
      { email: 'ada\u0000@example.com' },
      { email: email(), expiresInDays: 0 },
      { email: email(), expiresInDays: 31 },
      { email: email(), expiresInDays: 1.5 },
      { email: email(), roles: ['Not Valid'] },
      { email: email(), roles: Array.from({ length: 21 }, (_, i) => `r${i}`) },
      { email: email(), send: 'yes' },
      { email: email(), admin: true },
      {},
    ]) {
      const res = await invite(org, body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await api.raw('POST', `/api/organizations/${org}/invitations`, '{"email": ')).statusCode).toBe(400);
    expect((await api.call('GET', `/api/organizations/${org}/invitations`)).json().items).toEqual([]);
  });

  it('an invalid, truncated or hostile token on the page is 404, never 500', async () => {
    for (const token of ['', 'x', 'A'.repeat(43), 'A'.repeat(5000), '%00', '<script>']) {
      const res = await openLink(env, host(), token);
      expect(res.res.statusCode, token.slice(0, 10)).toBe(404);
      expect(res.res.body).not.toContain('<script>');
    }
    const post = await submit(env, host(), { token: 'A'.repeat(43), csrf: 'x' });
    expect(post.statusCode).toBe(404);
  });

  it('wrong organization or tenant: 404 everywhere, and a link works only on its own tenant', async () => {
    const org = await newOrg();
    const otherOrg = await newOrg();
    const { invitation, token } = await invited(org);
    expect((await api.call('GET', `/api/organizations/${otherOrg}/invitations/${invitation.id}`)).statusCode).toBe(404);
    expect((await api.call('POST', `/api/organizations/${otherOrg}/invitations/${invitation.id}/revoke`)).statusCode).toBe(404);
    expect((await api.call('POST', `/api/organizations/${otherOrg}/invitations/${invitation.id}/resend`)).statusCode).toBe(404);
    expect((await api.call('POST', `/api/organizations/${crypto.randomUUID()}/invitations`, { email: email() })).statusCode).toBe(404);
    expect((await api.call('GET', `/api/organizations/${crypto.randomUUID()}/invitations`)).statusCode).toBe(404);
    // The other tenant sees neither the organization nor the invitation, and cannot use the link.
    expect((await other.call('GET', `/api/organizations/${org}/invitations`)).statusCode).toBe(404);
    expect((await other.call('GET', `/api/organizations/${org}/invitations/${invitation.id}`)).statusCode).toBe(404);
    expect((await other.call('POST', `/api/organizations/${org}/invitations`, { email: email() })).statusCode).toBe(404);
    expect((await openLink(env, other.tenant.host, token!)).res.statusCode).toBe(404);
    expect((await api.call('GET', `/api/organizations/${org}/invitations/${invitation.id}`)).json().status).toBe('pending');
  });

  it('permissions: a token without iam/ is refused; the routes declare the organizations permissions', async () => {
    const org = await newOrg();
    const res = await env.app.inject({ method: 'POST', url: `/api/organizations/${org}/invitations`, headers: { host: host(), 'content-type': 'application/json' }, payload: JSON.stringify({ email: email() }) });
    expect(res.statusCode).toBe(401);
    const perms = env.app.services.routePermissions;
    expect(perms.get('POST /api/organizations/:organizationId/invitations')).toBe('organizations:write');
    expect(perms.get('GET /api/organizations/:organizationId/invitations')).toBe('organizations:read');
    expect(perms.get('GET /api/organizations/:organizationId/invitations/:invitationId')).toBe('organizations:read');
    expect(perms.get('POST /api/organizations/:organizationId/invitations/:invitationId/resend')).toBe('organizations:write');
    expect(perms.get('POST /api/organizations/:organizationId/invitations/:invitationId/revoke')).toBe('organizations:write');
  });

  it('the email carries the tenant branding', async () => {
    const t = await apiFor(env, await env.newTenant());
    expect((await t.call('PATCH', '/api/tenant', { branding: { logoUrl: 'https://cdn.example/acme.png', color: '#aa3300' } })).statusCode).toBe(200);
    expect((await t.call('PATCH', '/api/tenant', { branding: { logoUrl: 'http://cdn.example/acme.png' } })).statusCode).toBe(400);
    expect((await t.call('PATCH', '/api/tenant', { branding: { color: 'red' } })).statusCode).toBe(400);
    const org = (await t.call('POST', '/api/organizations', { displayName: 'Branded' })).json().id;
    const address = email('branded');
    expect((await t.call('POST', `/api/organizations/${org}/invitations`, { email: address })).statusCode).toBe(201);
    const [mail] = await deliveredTo(address);
    expect(mail!.html).toContain('<img src="https://cdn.example/acme.png"');
    expect(mail!.html).toContain('#aa3300');
    expect((await t.call('GET', '/api/tenant')).json().settings.branding).toEqual({ logoUrl: 'https://cdn.example/acme.png', color: '#aa3300' });
  });

  it('organization deletion takes its invitations with it', async () => {
    const org = await newOrg();
    const { invitation, token } = await invited(org);
    expect((await api.call('DELETE', `/api/organizations/${org}`)).statusCode).toBe(204);
    expect((await scope().select(invitations, eq(invitations.id, invitation.id))).length).toBe(0);
    expect((await openLink(env, host(), token!)).res.statusCode).toBe(404);
  });
});

describe("STACKIT's sendInvitation (SCIM)", () => {
  let c: Awaited<ReturnType<typeof scimClient>>;
  beforeAll(async () => {
    c = await scimClient(env, api.tenant);
  });

  it('sends the invitation email through the same queue; accepting sets the first password', async () => {
    const address = email('scim');
    const res = await c.call('POST', '/Users', { schemas: [USER, NOTIFICATIONS], userName: address, emails: [{ value: address, primary: true }], [NOTIFICATIONS]: { sendInvitation: true } });
    expect(res.statusCode, res.body).toBe(201);
    const mails = await deliveredTo(address);
    expect(mails.length).toBe(1);
    expect(mails[0]!.subject).toBe(`Invitation to join ${api.tenant.tenant.displayName}`);
    const token = tokenOf(linkIn(mails[0]!));
    const accepted = await accept(token, { password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD });
    expect(accepted.statusCode).toBe(303);
    expect((await api.call('GET', `/api/users/${res.json().id}`)).json()).toMatchObject({ passwordSet: true, emailVerified: true });
    // The request row records that it was sent.
    const [request] = await scope().select(invitationRequests, eq(invitationRequests.userId, res.json().id));
    expect(request).toMatchObject({ source: 'scim', status: 'sent' });
    // A tenant invitation: in the feed without an organization.
    const events = (await api.call('GET', '/api/events?types=invitation.*&limit=500')).json().items.filter((e: { data: { userId: string } }) => e.data.userId === res.json().id);
    expect(events.map((e: { type: string; organizationId: string | null; data: { organizationId: string | null } }) => [e.type, e.organizationId, e.data.organizationId])).toEqual([
      ['invitation.created', null, null],
      ['invitation.accepted', null, null],
    ]);
  });

  it('a SCIM user without an email address gets no email; the request is recorded as failed', async () => {
    const res = await c.call('POST', '/Users', { schemas: [USER, NOTIFICATIONS], userName: `no-mail-${randomBytes(3).toString('hex')}`, [NOTIFICATIONS]: { sendInvitation: true } });
    expect(res.statusCode, res.body).toBe(201);
    const [request] = await scope().select(invitationRequests, eq(invitationRequests.userId, res.json().id));
    expect(request).toMatchObject({ status: 'failed' });
    expect((await scope().select(invitations, eq(invitations.userId, res.json().id))).length).toBe(0);
  });

  it('without sendInvitation nothing is sent', async () => {
    const address = email('scim-quiet');
    expect((await c.call('POST', '/Users', { schemas: [USER], userName: address, emails: [{ value: address, primary: true }] })).statusCode).toBe(201);
    expect(await deliveredTo(address)).toEqual([]);
  });
});
