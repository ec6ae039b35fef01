/**
 * Signed AuthnRequests (issue #11; SAML 2.0 Bindings §3.4.4.1): a connection with `signAuthnRequest` gets its own
 * key and self-signed certificate, publishes the certificate in its SP metadata (AuthnRequestsSigned="true"), and
 * signs the HTTP-Redirect query. The signature is checked here as an IdP checks it — node:crypto over the query's
 * octets with the certificate from the metadata — never with our SP code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerify, X509Certificate } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { eq } from 'drizzle-orm';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { selfSignedKeyPair } from '../support/saml-test-idp.ts';
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

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
  orgId = (await api.call('POST', '/api/organizations', { displayName: 'Signing Corp' })).json().id;
  idpCert = selfSignedKeyPair('idp.signing.test').cert;
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
