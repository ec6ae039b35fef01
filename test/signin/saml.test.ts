/**
 * SAML 2.0 sign-in through an organization's connection, with responses built and signed by the test itself
 * (xml-crypto, a certificate made by openssl), never by our SP code: the happy path, then the attacks that broke
 * open-source SAML (signature wrapping, comment injection), unsigned and wrongly signed assertions, wrong audience,
 * destination and issuer, expiry, replay, unsolicited responses, and certificate rotation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;
let orgId: string;
let connectionId: string;
let idp: { key: string; cert: string };
let rotated: { key: string; cert: string };
let stranger: { key: string; cert: string };
const IDP_ENTITY = 'https://idp.megacorp.test/saml';

function keyPair(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=test-idp', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`], { stdio: 'ignore' });
    return { key: readFileSync(`${dir}/k.pem`, 'utf8'), cert: readFileSync(`${dir}/c.pem`, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  [idp, rotated, stranger] = [keyPair(), keyPair(), keyPair()];
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  orgId = (await api.call('POST', '/api/organizations', { displayName: 'Megacorp' })).json().id;
  const d = (await api.call('POST', `/api/organizations/${orgId}/domains`, { domain: 'megacorp.test' })).json();
  await api.call('POST', `/api/organizations/${orgId}/domains/${d.id}/mark-verified`, {});
  const c = await api.call('POST', `/api/organizations/${orgId}/connections`, {
    type: 'saml',
    displayName: 'Megacorp ADFS',
    settings: { idpEntityId: IDP_ENTITY, idpSsoUrl: 'https://idp.megacorp.test/sso', idpCertificates: [idp.cert, rotated.cert] },
    defaultOrganizationRoles: ['member'],
  });
  expect(c.statusCode, c.body).toBe(201);
  connectionId = c.json().id;
  expect((await api.call('POST', `/api/connections/${connectionId}/activate`, {})).statusCode).toBe(200);
});
afterAll(() => env.close());

const issuer = () => api.tenant.tenant.issuer;
const acs = () => `${issuer()}/sso/saml/${connectionId}/acs`;
const spEntity = () => `${issuer()}/sso/saml/${connectionId}/metadata`;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

/** Starts a sign-in: our transaction cookie and the AuthnRequest ID the IdP must answer. */
async function start(): Promise<{ cookie: string; requestId: string }> {
  const res = await env.app.inject({ url: `/sso/saml/${connectionId}/start?return_to=/after`, headers: { host: api.tenant.host } });
  expect(res.statusCode).toBe(303);
  const location = new URL(res.headers.location as string);
  expect(location.origin + location.pathname).toBe('https://idp.megacorp.test/sso');
  const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const requestId = /ID="([^"]+)"/.exec(request)![1]!;
  expect(request).toContain(`AssertionConsumerServiceURL="${acs()}"`);
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ');
  return { cookie, requestId };
}

interface Shape {
  inResponseTo?: string;
  nameId?: string;
  audience?: string;
  destination?: string;
  recipient?: string;
  issuer?: string;
  notBefore?: string;
  notOnOrAfter?: string;
  assertionId?: string;
  email?: string;
}

function assertionXml(s: Shape & { inResponseTo: string }): string {
  const id = s.assertionId ?? `_a${randomBytes(16).toString('hex')}`;
  return (
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(0)}">` +
    `<saml:Issuer>${s.issuer ?? IDP_ENTITY}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${s.nameId ?? 'ada@megacorp.test'}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${s.inResponseTo}" NotOnOrAfter="${s.notOnOrAfter ?? iso(300_000)}" Recipient="${s.recipient ?? acs()}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${s.notBefore ?? iso(-60_000)}" NotOnOrAfter="${s.notOnOrAfter ?? iso(300_000)}"><saml:AudienceRestriction><saml:Audience>${s.audience ?? spEntity()}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(0)}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${s.email ?? s.nameId ?? 'ada@megacorp.test'}</saml:AttributeValue></saml:Attribute>` +
    `<saml:Attribute Name="givenName"><saml:AttributeValue>Ada</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

function sign(xml: string, key: { key: string; cert: string }, xpath: string): string {
  const sig = new SignedXml({ privateKey: key.key, publicCert: key.cert, signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  sig.addReference({ xpath, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'], digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256' });
  sig.computeSignature(xml, { location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

function responseXml(inner: string, s: Shape & { inResponseTo: string }): string {
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(0)}" Destination="${s.destination ?? acs()}" InResponseTo="${s.inResponseTo}">` +
    `<saml:Issuer>${s.issuer ?? IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    inner +
    `</samlp:Response>`
  );
}

/** A response whose assertion is signed by `key` (the IdP's by default). */
function signedResponse(s: Shape & { inResponseTo: string }, key = idp): string {
  return responseXml(sign(assertionXml(s), key, "//*[local-name(.)='Assertion']"), s);
}

async function post(cookie: string, xml: string) {
  return env.app.inject({
    method: 'POST',
    url: `/sso/saml/${connectionId}/acs`,
    headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: '' }).toString(),
  });
}

async function lastFailure(): Promise<{ reason: string; detail: string }> {
  const trail = (await api.call('GET', `/api/audit?action=signin.failure&targetId=${connectionId}`)).json();
  return trail.items[0]?.after;
}
const lastFailureReason = async () => (await lastFailure()).reason;

describe('SAML sign-in', () => {
  it('SP-initiated: a signed assertion answering our AuthnRequest signs the user in, as a member of the organization', async () => {
    const { cookie, requestId } = await start();
    const res = await post(cookie, signedResponse({ inResponseTo: requestId }));
    expect(res.statusCode, JSON.stringify((await api.call('GET', `/api/audit?action=signin.failure&targetId=${connectionId}`)).json().items[0]?.after)).toBe(303);
    expect(res.headers.location).toBe('/after');
    expect(String(res.headers['set-cookie'])).toContain('iam_session=');
    const users = (await api.call('GET', '/api/users?email=ada@megacorp.test')).json().items;
    expect(users).toHaveLength(1);
    expect((await api.call('GET', `/api/organizations/${orgId}/members/${users[0].id}`)).json().roles).toEqual(['member']);
  });

  it('SP metadata is served at the stable URL', async () => {
    const res = await env.app.inject({ url: `/sso/saml/${connectionId}/metadata`, headers: { host: api.tenant.host } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`entityID="${spEntity()}"`);
    expect(res.body).toContain(`Location="${acs()}"`);
  });

  it('a replayed assertion is refused', async () => {
    const assertionId = `_a${randomBytes(16).toString('hex')}`;
    const a = await start();
    expect((await post(a.cookie, signedResponse({ inResponseTo: a.requestId, assertionId }))).statusCode).toBe(303);
    const b = await start();
    // Same assertion ID, even freshly signed for the new request.
    expect((await post(b.cookie, signedResponse({ inResponseTo: b.requestId, assertionId }))).statusCode).toBe(400);
    expect(await lastFailureReason()).toBe('replayed');
  });

  it('rotation: an assertion signed with the second configured certificate is accepted; an unknown certificate is not', async () => {
    const a = await start();
    expect((await post(a.cookie, signedResponse({ inResponseTo: a.requestId }, rotated))).statusCode).toBe(303);
    const b = await start();
    expect((await post(b.cookie, signedResponse({ inResponseTo: b.requestId }, stranger))).statusCode).toBe(400);
    expect(await lastFailureReason()).toBe('signature_invalid');
  });

  it('an unsigned assertion is refused', async () => {
    const { cookie, requestId } = await start();
    expect((await post(cookie, responseXml(assertionXml({ inResponseTo: requestId }), { inResponseTo: requestId }))).statusCode).toBe(400);
  });

  it('signature wrapping: an unsigned assertion beside the signed one is refused', async () => {
    const { cookie, requestId } = await start();
    const signed = sign(assertionXml({ inResponseTo: requestId }), idp, "//*[local-name(.)='Assertion']");
    const evil = assertionXml({ inResponseTo: requestId, nameId: 'admin@megacorp.test' });
    expect((await post(cookie, responseXml(evil + signed, { inResponseTo: requestId }))).statusCode).toBe(400);
    const again = await start();
    const signed2 = sign(assertionXml({ inResponseTo: again.requestId }), idp, "//*[local-name(.)='Assertion']");
    expect((await post(again.cookie, responseXml(signed2 + assertionXml({ inResponseTo: again.requestId, nameId: 'admin@megacorp.test' }), { inResponseTo: again.requestId }))).statusCode).toBe(400);
    const admins = (await api.call('GET', '/api/users?email=admin@megacorp.test')).json().items;
    expect(admins).toHaveLength(0);
  });

  it('a comment inside the NameID does not truncate it', async () => {
    const { cookie, requestId } = await start();
    const xml = sign(assertionXml({ inResponseTo: requestId, nameId: 'eve@evil.test<!---->.megacorp.test', email: 'eve@evil.test<!---->.megacorp.test' }), idp, "//*[local-name(.)='Assertion']");
    const res = await post(cookie, responseXml(xml, { inResponseTo: requestId }));
    // Whatever the outcome, nobody became eve@evil.test.
    expect((await api.call('GET', '/api/users?email=eve@evil.test')).json().items.filter((u: { email: string }) => u.email === 'eve@evil.test')).toHaveLength(0);
    expect([303, 400, 403]).toContain(res.statusCode);
  });

  it.each([
    ['wrong audience', { audience: 'https://other-sp.example/metadata' }, 'audience_mismatch'],
    ['wrong issuer', { issuer: 'https://evil-idp.example' }, 'issuer_mismatch'],
    ['expired', { notBefore: new Date(Date.now() - 3_600_000).toISOString(), notOnOrAfter: new Date(Date.now() - 1_800_000).toISOString() }, 'subject_confirmation_invalid'],
    ['wrong recipient', { recipient: 'https://other-sp.example/acs' }, 'recipient_mismatch'],
    ['not yet valid', { notBefore: new Date(Date.now() + 1_800_000).toISOString() }, 'not_yet_valid'],
    ['wrong destination', { destination: 'https://other-sp.example/acs' }, 'destination_mismatch'],
    ['answering another request', { inResponseTo: '_not-our-request' }, 'in_response_to_mismatch'],
  ] as const)('%s is refused', async (_name, shape, reason) => {
    const { cookie, requestId } = await start();
    const res = await post(cookie, signedResponse({ inResponseTo: requestId, ...shape }));
    expect(res.statusCode).toBe(400);
    const failure = await lastFailure();
    expect(failure.reason, failure.detail).toBe(reason);
  });

  it('unsolicited (IdP-initiated) is never a login: a fresh SP-initiated sign-in starts', async () => {
    const res = await post('', signedResponse({ inResponseTo: '_whatever' }));
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(new RegExp(`^/sso/saml/${connectionId}/start`));
    expect(String(res.headers['set-cookie'] ?? '')).not.toContain('iam_session=');
  });

  it('hostile input: a DTD, oversized or non-base64 input is a 400, never a 500', async () => {
    const { cookie } = await start();
    expect((await post(cookie, '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')).statusCode).toBe(400);
    const big = await start();
    expect([400, 413]).toContain((await post(big.cookie, 'x'.repeat(300_000))).statusCode);
    const bad = await start();
    const res = await env.app.inject({ method: 'POST', url: `/sso/saml/${connectionId}/acs`, headers: { host: api.tenant.host, cookie: bad.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'SAMLResponse=%00%01' });
    expect(res.statusCode).toBe(400);
  });

  it("another tenant cannot use this tenant's connection", async () => {
    const other = await env.newTenant();
    expect((await env.app.inject({ url: `/sso/saml/${connectionId}/start`, headers: { host: other.host } })).statusCode).toBe(404);
    expect((await env.app.inject({ url: `/sso/saml/${connectionId}/metadata`, headers: { host: other.host } })).statusCode).toBe(404);
  });
});
