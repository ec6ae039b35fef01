/**
 * A loopback SAML 2.0 identity provider for browser tests, independent of our SP code: it reads the AuthnRequest
 * (HTTP-Redirect binding: deflated, base64), shows a sign-in page, and posts a Response whose assertion it signs
 * itself with xml-crypto (RSA-SHA256, exclusive C14N) to the request's AssertionConsumerServiceURL (HTTP-POST
 * binding). `signWith` switches the signing key, to make the SP refuse the signature.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';

export interface KeyPair {
  key: string;
  cert: string;
}

export function selfSignedKeyPair(cn = 'test-idp', days = 30): KeyPair {
  const dir = mkdtempSync(path.join(tmpdir(), 'saml-idp-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', String(days), '-subj', `/CN=${cn}`, '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`], { stdio: 'ignore' });
    return { key: readFileSync(`${dir}/k.pem`, 'utf8'), cert: readFileSync(`${dir}/c.pem`, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SamlTestIdp {
  entityId: string;
  ssoUrl: string;
  keys: KeyPair;
  /** The key the next response is signed with (default: `keys`). */
  signWith: KeyPair;
  user: { nameId: string; email: string; givenName: string; familyName: string };
  close(): Promise<void>;
}

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

function sign(xml: string, key: KeyPair): string {
  const xpath = "//*[local-name(.)='Assertion']";
  const sig = new SignedXml({ privateKey: key.key, publicCert: key.cert, signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  sig.addReference({ xpath, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'], digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256' });
  sig.computeSignature(xml, { location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

export async function startSamlTestIdp(): Promise<SamlTestIdp> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idp: SamlTestIdp = {
    entityId: `${base}/metadata`,
    ssoUrl: `${base}/sso`,
    keys: selfSignedKeyPair(),
    signWith: undefined as unknown as KeyPair,
    user: { nameId: 'ada@acme.test', email: 'ada@acme.test', givenName: 'Ada', familyName: 'Lovelace' },
    close: () => new Promise((r) => server.close(() => r())),
  };
  idp.signWith = idp.keys;

  server.on('request', (req, res) => {
    const url = new URL(req.url!, base);
    if (url.pathname !== '/sso') return void res.writeHead(404).end();
    const request = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
    const requestId = /\sID="([^"]+)"/.exec(request)?.[1] ?? '';
    const acs = /AssertionConsumerServiceURL="([^"]+)"/.exec(request)?.[1] ?? '';
    const audience = /<(?:saml:)?Issuer[^>]*>([^<]+)</.exec(request)?.[1] ?? '';
    const u = idp.user;
    const assertion =
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(0)}">` +
      `<saml:Issuer>${esc(idp.entityId)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(u.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${esc(requestId)}" NotOnOrAfter="${iso(300_000)}" Recipient="${esc(acs)}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${iso(-60_000)}" NotOnOrAfter="${iso(300_000)}"><saml:AudienceRestriction><saml:Audience>${esc(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(0)}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${esc(u.email)}</saml:AttributeValue></saml:Attribute>` +
      `<saml:Attribute Name="givenName"><saml:AttributeValue>${esc(u.givenName)}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="sn"><saml:AttributeValue>${esc(u.familyName)}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
      `</saml:Assertion>`;
    const response =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(0)}" Destination="${esc(acs)}" InResponseTo="${esc(requestId)}">` +
      `<saml:Issuer>${esc(idp.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      sign(assertion, idp.signWith) +
      `</samlp:Response>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="en"><head><title>Test IdP</title></head><body><h1>Test identity provider</h1><p>Signing in ${esc(u.email)}</p>` +
        `<form method="post" action="${esc(acs)}"><input type="hidden" name="SAMLResponse" value="${Buffer.from(response).toString('base64')}"><input type="hidden" name="RelayState" value="${esc(url.searchParams.get('RelayState') ?? '')}"><button type="submit">Continue as ${esc(u.givenName)}</button></form></body></html>`,
    );
  });
  return idp;
}
