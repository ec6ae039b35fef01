/**
 * A SAML connection's own key (issue #11). Signed AuthnRequests (SAML 2.0 Bindings §3.4.4.1): with
 * `signAuthnRequest` the connection gets its own key and self-signed certificate, publishes the certificate in its SP
 * metadata (AuthnRequestsSigned="true"), and signs the HTTP-Redirect query; the signature is checked here as an IdP
 * checks it — node:crypto over the query's octets with the certificate from the metadata — never with our SP code.
 * Encrypted assertions: with `wantAssertionsEncrypted` the IdP (this test, with xml-crypto and xml-encryption)
 * encrypts its signed assertion to the certificate from our metadata; plaintext assertions and RSA PKCS#1 v1.5 key
 * transport are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerify, X509Certificate } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { endOfFeed, eventsAfter } from '../support/events.ts';
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { encrypt, type EncryptionAlgorithm, type KeyEncryptionAlgorithm } from 'xml-encryption';
import { selfSignedKeyPair, type KeyPair } from '../support/saml-test-idp.ts';
import { forTenant } from '../../src/platform/db.ts';
import { connections } from '../../src/db/schema/index.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
let env: TestEnv;
let api: Api;
let other: Api;
let orgId: string;
let idpCert: string;
let idpKeys: KeyPair;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  orgId = (await api.call('POST', '/api/organizations', { displayName: 'Signing Corp' })).json().id;
  idpKeys = selfSignedKeyPair('idp.signing.test');
  idpCert = idpKeys.cert;
});
afterAll(() => env.close());

async function connection(signAuthnRequest: boolean) {
  const res = await api.call('POST', `/api/organizations/${orgId}/connections`, {
    type: 'saml',
    displayName: `Signed ${signAuthnRequest}`,
    settings: { idpEntityId: 'https://idp.signing.test/saml', idpSsoUrl: 'https://idp.signing.test/sso', idpCertificates: [idpCert], signAuthnRequest },
  });
  expect(res.statusCode, res.body).toBe(201);
  expect((await api.call('POST', `/api/connections/${res.json().id}/activate`, {})).statusCode).toBe(200);
  return res.json() as { id: string; serviceProvider: Record<string, string>; settings: Record<string, unknown> };
}

const metadataOf = async (id: string) => {
  const res = await env.app.inject({ url: `/sso/saml/${id}/metadata`, headers: { host: api.tenant.host } });
  expect(res.statusCode).toBe(200);
  return new DOMParser().parseFromString(res.body, 'text/xml');
};

/** The redirect to the IdP, and its query exactly as sent (the signature covers these octets, not a re-encoding). */
async function startOf(id: string) {
  const res = await env.app.inject({ url: `/sso/saml/${id}/start`, headers: { host: api.tenant.host } });
  expect(res.statusCode).toBe(303);
  const location = String(res.headers.location);
  const query = location.slice(location.indexOf('?') + 1);
  const raw = new Map(query.split('&').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as const));
  return { location: new URL(location), raw };
}

/** SAML 2.0 Bindings §3.4.4.1: SAMLRequest=…&RelayState=…&SigAlg=…, each as URL-encoded in the query. */
function signedOctets(raw: Map<string, string>): string {
  return ['SAMLRequest', 'RelayState', 'SigAlg'].filter((k) => raw.has(k)).map((k) => `${k}=${raw.get(k)}`).join('&');
}

describe('signed AuthnRequests', () => {
  it('the connection gets a certificate, published in its SP metadata; the redirect is signed RSA-SHA256 with its key', async () => {
    const c = await connection(true);
    const pem = c.serviceProvider.signingCertificate!;
    const cert = new X509Certificate(pem);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);
    // The private key never leaves: not in the API, not in the metadata.
    expect(JSON.stringify(c)).not.toMatch(/PRIVATE KEY/);

    const md = await metadataOf(c.id);
    const spDescriptor = md.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0]!;
    expect(spDescriptor.getAttribute('AuthnRequestsSigned')).toBe('true');
    const key = [...Array.from(spDescriptor.getElementsByTagNameNS(MD, 'KeyDescriptor'))].find((k) => k.getAttribute('use') === 'signing')!;
    const published = key.getElementsByTagNameNS(DS, 'X509Certificate')[0]!.textContent!.replace(/\s/g, '');
    expect(published).toBe(pem.replace(/-----[^-]+-----|\s/g, ''));

    const { location, raw } = await startOf(c.id);
    expect(location.searchParams.get('SigAlg')).toBe(RSA_SHA256);
    const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    // HTTP-Redirect carries the signature in the query, not in the XML (Bindings §3.4.4.1).
    expect(request).not.toContain('<ds:Signature');
    const signature = Buffer.from(location.searchParams.get('Signature')!, 'base64');
    const verifier = (octets: string) => createVerify('RSA-SHA256').update(octets).verify(new X509Certificate(`-----BEGIN CERTIFICATE-----\n${published}\n-----END CERTIFICATE-----`).publicKey, signature);
    expect(verifier(signedOctets(raw))).toBe(true);
    // A changed request (another ACS, say) no longer verifies.
    expect(verifier(signedOctets(new Map(raw).set('SAMLRequest', raw.get('SAMLRequest')!.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')))))).toBe(false);
    // The key is sealed at rest, bound to this connection.
    const [row] = await forTenant(env.database.db, api.tenant.tenant.id).select(connections, eq(connections.id, c.id));
    expect(row!.spSigningKeySealed).toBeTruthy();
    expect(row!.spSigningKeySealed).not.toContain('PRIVATE KEY');
    expect(() => env.keys.unseal(row!.spSigningKeySealed!, `${other.tenant.tenant.id}/connection/${c.id}/sp-signing`)).toThrow();
  });

  it('without signAuthnRequest: no certificate, no signature, AuthnRequestsSigned="false"', async () => {
    const c = await connection(false);
    expect(c.serviceProvider.signingCertificate).toBeUndefined();
    const md = await metadataOf(c.id);
    expect(md.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0]!.getAttribute('AuthnRequestsSigned')).toBe('false');
    const { location } = await startOf(c.id);
    expect(location.searchParams.get('Signature')).toBeNull();
    expect(location.searchParams.get('SigAlg')).toBeNull();
  });

  it('turned on later, it gets its credential then; off and on again keeps the same certificate (the IdP was given it)', async () => {
    const c = await connection(false);
    const settings = { idpEntityId: 'https://idp.signing.test/saml', idpSsoUrl: 'https://idp.signing.test/sso', idpCertificates: [idpCert] };
    const on = (await api.call('PATCH', `/api/connections/${c.id}`, { settings: { ...settings, signAuthnRequest: true } })).json();
    const pem = on.serviceProvider.signingCertificate;
    expect(pem).toMatch(/BEGIN CERTIFICATE/);
    const off = (await api.call('PATCH', `/api/connections/${c.id}`, { settings: { ...settings, signAuthnRequest: false } })).json();
    expect((await startOf(c.id)).location.searchParams.get('Signature')).toBeNull();
    expect(off.serviceProvider.signingCertificate).toBe(pem);
    const again = (await api.call('PATCH', `/api/connections/${c.id}`, { settings: { ...settings, signAuthnRequest: true } })).json();
    expect(again.serviceProvider.signingCertificate).toBe(pem);
    expect((await startOf(c.id)).location.searchParams.get('Signature')).toBeTruthy();
  });
});

describe('signing certificate rollover', () => {
  it('both certificates are published as signing keys; requests are signed with the current one until the next is promoted', async () => {
    const c = await connection(true);
    const next = (await api.call('POST', `/api/connections/${c.id}/sp-certificate/rollover`, {})).json().serviceProvider.nextSigningCertificate as string;
    const signingKeys = async () =>
      Array.from((await metadataOf(c.id)).getElementsByTagNameNS(MD, 'KeyDescriptor'))
        .filter((k) => k.getAttribute('use') === 'signing')
        .map((k) => k.getElementsByTagNameNS(DS, 'X509Certificate')[0]!.textContent!.replace(/\s/g, ''));
    const bare = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
    expect(await signingKeys()).toEqual([bare(c.serviceProvider.signingCertificate!), bare(next)]);
    const verifiesWith = async (pem: string) => {
      const { location, raw } = await startOf(c.id);
      return createVerify('RSA-SHA256').update(signedOctets(raw)).verify(new X509Certificate(pem).publicKey, Buffer.from(location.searchParams.get('Signature')!, 'base64'));
    };
    expect(await verifiesWith(c.serviceProvider.signingCertificate!)).toBe(true);
    expect(await verifiesWith(next)).toBe(false);
    expect((await api.call('POST', `/api/connections/${c.id}/sp-certificate/promote`, {})).statusCode).toBe(200);
    expect(await signingKeys()).toEqual([bare(next)]);
    expect(await verifiesWith(next)).toBe(true);
  });
});

describe('encrypted assertions', () => {
  const IDP = 'https://idp.signing.test/saml';
  const iso = (ms: number) => new Date(Date.now() + ms).toISOString();
  let id: string;
  let spCert: string;

  beforeAll(async () => {
    const res = await api.call('POST', `/api/organizations/${orgId}/connections`, {
      type: 'saml',
      displayName: 'Encrypted',
      jitPolicy: 'anyone',
      settings: { idpEntityId: IDP, idpSsoUrl: 'https://idp.signing.test/sso', idpCertificates: [idpCert], wantAssertionsEncrypted: true },
    });
    expect(res.statusCode, res.body).toBe(201);
    id = res.json().id;
    expect((await api.call('POST', `/api/connections/${id}/activate`, {})).statusCode).toBe(200);
    const md = await metadataOf(id);
    const spDescriptor = md.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0]!;
    // Encryption only: no signing KeyDescriptor, and requests are not claimed to be signed.
    expect(spDescriptor.getAttribute('AuthnRequestsSigned')).toBe('false');
    const keys = Array.from(spDescriptor.getElementsByTagNameNS(MD, 'KeyDescriptor'));
    expect(keys.map((k) => k.getAttribute('use'))).toEqual(['encryption']);
    spCert = `-----BEGIN CERTIFICATE-----\n${keys[0]!.getElementsByTagNameNS(DS, 'X509Certificate')[0]!.textContent!.replace(/\s/g, '')}\n-----END CERTIFICATE-----\n`;
    expect(spCert.replace(/\s/g, '')).toBe(res.json().serviceProvider.signingCertificate.replace(/\s/g, ''));
  });

  const acs = () => `${api.tenant.tenant.issuer}/sso/saml/${id}/acs`;
  async function begin() {
    const res = await env.app.inject({ url: `/sso/saml/${id}/start?return_to=/after`, headers: { host: api.tenant.host } });
    const location = new URL(String(res.headers.location));
    const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    return { requestId: /ID="([^"]+)"/.exec(request)![1]!, cookie: ([] as string[]).concat(res.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ') };
  }
  function signedAssertion(requestId: string, email: string): string {
    const audience = `${api.tenant.tenant.issuer}/sso/saml/${id}/metadata`;
    const xml =
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(0)}"><saml:Issuer>${IDP}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${requestId}" NotOnOrAfter="${iso(300_000)}" Recipient="${acs()}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${iso(-60_000)}" NotOnOrAfter="${iso(300_000)}"><saml:AudienceRestriction><saml:Audience>${audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(0)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>`;
    const xpath = "//*[local-name(.)='Assertion']";
    const sig = new SignedXml({ privateKey: idpKeys.key, publicCert: idpKeys.cert, signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
    sig.addReference({ xpath, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'], digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256' });
    sig.computeSignature(xml, { location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
    return sig.getSignedXml();
  }
  const encrypted = (xml: string, keyEncryptionAlgorithm: KeyEncryptionAlgorithm = 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', encryptionAlgorithm: EncryptionAlgorithm = 'http://www.w3.org/2009/xmlenc11#aes256-gcm') =>
    new Promise<string>((resolve, reject) =>
      encrypt(xml, { rsa_pub: new X509Certificate(spCert).publicKey.export({ type: 'spki', format: 'pem' }) as string, pem: spCert, encryptionAlgorithm, keyEncryptionAlgorithm, disallowEncryptionWithInsecureAlgorithm: false, warnInsecureAlgorithm: false }, (e, out) => (e ? reject(e) : resolve(out))),
    );
  const response = (requestId: string, inner: string) =>
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(0)}" Destination="${acs()}" InResponseTo="${requestId}"><saml:Issuer>${IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${inner}</samlp:Response>`;
  const post = (cookie: string, xml: string) =>
    env.app.inject({ method: 'POST', url: `/sso/saml/${id}/acs`, headers: { host: api.tenant.host, cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: '' }).toString() });
  const lastReason = async () => (await api.call('GET', `/api/audit?action=signin.failure&targetId=${id}`)).json().items[0]?.after.reason;

  it('an assertion encrypted to our certificate (RSA-OAEP, AES-256-GCM; AES-256-CBC as AD FS sends) signs the user in', async () => {
    for (const algorithm of ['http://www.w3.org/2009/xmlenc11#aes256-gcm', 'http://www.w3.org/2001/04/xmlenc#aes256-cbc'] as const) {
      const { requestId, cookie } = await begin();
      const inner = `<saml:EncryptedAssertion>${await encrypted(signedAssertion(requestId, 'enc@signing.test'), undefined, algorithm)}</saml:EncryptedAssertion>`;
      const res = await post(cookie, response(requestId, inner));
      expect(res.statusCode, `${algorithm}: ${await lastReason()}`).toBe(303);
      expect(res.headers.location).toBe('/after');
    }
  });

  it('refused: a plaintext assertion, RSA PKCS#1 v1.5 key transport, an assertion encrypted to another key', async () => {
    let { requestId, cookie } = await begin();
    expect((await post(cookie, response(requestId, signedAssertion(requestId, 'plain@signing.test')))).statusCode).toBe(400);
    expect(await lastReason()).toBe('encryption_required');

    ({ requestId, cookie } = await begin());
    const v15 = `<saml:EncryptedAssertion>${await encrypted(signedAssertion(requestId, 'v15@signing.test'), 'http://www.w3.org/2001/04/xmlenc#rsa-1_5')}</saml:EncryptedAssertion>`;
    expect((await post(cookie, response(requestId, v15))).statusCode).toBe(400);
    expect(await lastReason()).toBe('insecure_encryption');

    ({ requestId, cookie } = await begin());
    const stranger = selfSignedKeyPair('stranger');
    const toOther = await new Promise<string>((resolve, reject) =>
      encrypt(signedAssertion(requestId, 'other@signing.test'), { rsa_pub: new X509Certificate(stranger.cert).publicKey.export({ type: 'spki', format: 'pem' }) as string, pem: stranger.cert, encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm', keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p' }, (e, out) => (e ? reject(e) : resolve(out))),
    );
    expect((await post(cookie, response(requestId, `<saml:EncryptedAssertion>${toOther}</saml:EncryptedAssertion>`))).statusCode).toBe(400);
    expect((await api.call('GET', '/api/users?email=other@signing.test')).json().items).toEqual([]);
  });
  it('rolls over the SP certificate: both decrypt until promoted, the next one is the metadata\'s encryption key, then only it', async () => {
    const encryptTo = (cert: string, xml: string) =>
      new Promise<string>((resolve, reject) =>
        encrypt(xml, { rsa_pub: new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'pem' }) as string, pem: cert, encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm', keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p' }, (e, out) => (e ? reject(e) : resolve(out))),
      );
    const signInEncryptedTo = async (cert: string, email: string) => {
      const { requestId, cookie } = await begin();
      return (await post(cookie, response(requestId, `<saml:EncryptedAssertion>${await encryptTo(cert, signedAssertion(requestId, email))}</saml:EncryptedAssertion>`))).statusCode;
    };
    const pem = (c: string) => `-----BEGIN CERTIFICATE-----\n${c}\n-----END CERTIFICATE-----\n`;
    const encryptionKeyOf = async () => {
      const keys = Array.from((await metadataOf(id)).getElementsByTagNameNS(MD, 'KeyDescriptor')).filter((k) => k.getAttribute('use') === 'encryption');
      expect(keys).toHaveLength(1);
      return pem(keys[0]!.getElementsByTagNameNS(DS, 'X509Certificate')[0]!.textContent!.replace(/\s/g, ''));
    };
    const step = (name: string) => api.call('POST', `/api/connections/${id}/sp-certificate/${name}`, {});
    const old = spCert;
    expect((await step('promote')).statusCode).toBe(409);

    const feedAt = await endOfFeed(api);
    const started = await step('rollover');
    expect(started.statusCode, started.body).toBe(200);
    const next = started.json().serviceProvider.nextSigningCertificate as string;
    expect(next).toMatch(/BEGIN CERTIFICATE/);
    expect(next.replace(/\s/g, '')).not.toBe(old.replace(/\s/g, ''));
    expect((await encryptionKeyOf()).replace(/\s/g, '')).toBe(next.replace(/\s/g, ''));
    // Written to the feed in the rollover's transaction: the connection as it is now, with what it was before.
    const [announced] = await eventsAfter(api, feedAt, 1, { types: 'connection.updated' });
    expect(announced!.data).toMatchObject({ id, serviceProvider: { nextSigningCertificate: next } });
    expect(announced!.previousAttributes).toHaveProperty('serviceProvider');
    expect(await signInEncryptedTo(old, 'old-key@signing.test')).toBe(303);
    expect(await signInEncryptedTo(next, 'next-key@signing.test')).toBe(303);
    expect((await step('rollover')).statusCode).toBe(409);

    const promoted = (await step('promote')).json();
    expect(promoted.serviceProvider.signingCertificate).toBe(next);
    expect(promoted.serviceProvider.nextSigningCertificate).toBeUndefined();
    expect(await signInEncryptedTo(old, 'old-again@signing.test')).toBe(400);
    expect(await signInEncryptedTo(next, 'new-again@signing.test')).toBe(303);

    expect((await step('rollover')).statusCode).toBe(200);
    const cancelled = (await step('cancel')).json();
    expect(cancelled.serviceProvider).toMatchObject({ signingCertificate: next });
    expect(cancelled.serviceProvider.nextSigningCertificate).toBeUndefined();
    const fingerprint = (c: string) => new X509Certificate(c).fingerprint256;
    const audit = (await api.call('GET', `/api/audit?targetId=${id}&action=connection.sp_certificate.promote`)).json().items[0];
    expect(audit.after).toEqual({ signingCertificate: fingerprint(next), nextSigningCertificate: null });
    expect(audit.before).toEqual({ signingCertificate: fingerprint(old), nextSigningCertificate: fingerprint(next) });
    spCert = next;
  });

  it('rollover is refused for an OIDC connection, one without its own certificate (400), and another tenant\'s (404)', async () => {
    const plain = (await api.call('POST', `/api/organizations/${orgId}/connections`, { type: 'saml', displayName: 'Plain', settings: { idpEntityId: IDP, idpSsoUrl: 'https://idp.signing.test/sso', idpCertificates: [idpCert] } })).json();
    expect((await api.call('POST', `/api/connections/${plain.id}/sp-certificate/rollover`, {})).statusCode).toBe(400);
    const oidc = (await api.call('POST', `/api/organizations/${orgId}/connections`, { type: 'oidc', displayName: 'OIDC', settings: { issuer: 'https://idp.signing.test', clientId: 'x' } })).json();
    expect((await api.call('POST', `/api/connections/${oidc.id}/sp-certificate/rollover`, {})).statusCode).toBe(400);
    expect((await other.call('POST', `/api/connections/${id}/sp-certificate/rollover`, {})).statusCode).toBe(404);
    expect((await api.call('POST', `/api/connections/${id}/sp-certificate/rollover`, { extra: 1 })).statusCode).toBe(400);
  });
});
