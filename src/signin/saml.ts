/**
 * SAML 2.0 Web Browser SSO as a service provider (SAML 2.0 Profiles §4.1), through `@node-saml/node-saml` ≥ 5.1.0
 * (the release that fixed CVE-2025-54369 and CVE-2025-54419: it reads the profile from the assertion it verified).
 * - AuthnRequest over HTTP-Redirect; its ID goes into our sealed transaction cookie, and the response's InResponseTo
 *   must be exactly that ID (node-saml's cache is replaced by one that knows only this request).
 * - Response over HTTP-POST: signatures required as the connection says (assertion and/or response), the IdP's
 *   certificates (several during a rotation), Issuer, Audience (our entity ID), Destination/Recipient (our ACS),
 *   NotBefore/NotOnOrAfter with 60 s skew; then the assertion ID goes into the replay cache in PostgreSQL.
 * - The profile: NameID and the mapped attributes. A SAML IdP asserts no "email verified" flag; the email is treated
 *   as the IdP's claim and links or admits only through the connection's verified-domain rules (connection-routes.ts).
 */
import { randomBytes } from 'node:crypto';
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import type { TenantScope } from '../platform/db.ts';
import { rememberSamlAssertion, serviceProviderOf, type RoutableConnection } from '../connections/service.ts';
import type { VerifiedIdentity } from './federation.ts';

type SamlConnection = Extract<RoutableConnection, { type: 'saml' }>;

export const SAML_CLOCK_SKEW_MS = 60_000;
/** An encoded SAMLResponse larger than this is refused before any XML parsing. */
export const SAML_RESPONSE_MAX_BYTES = 256 * 1024;

export class SamlError extends Error {
  readonly reason: string;
  constructor(reason: string, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

const EMAIL_ATTRIBUTES = ['email', 'mail', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'];
const GIVEN_NAME_ATTRIBUTES = ['givenName', 'given_name', 'urn:oid:2.5.4.42', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'];
const FAMILY_NAME_ATTRIBUTES = ['sn', 'surname', 'family_name', 'urn:oid:2.5.4.4', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'];
const EMAIL_NAME_ID = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/** The connection's own key and certificate (connections/sp-credentials.ts): it signs requests and decrypts assertions. */
export interface SpKeyPair {
  privateKey: string;
  certificate: string;
  /** During a rollover (connections/service.ts rolloverSpCertificate): the next key, which decrypts too. */
  next?: { privateKey: string; certificate: string };
}

/** `expected`: the one request ID a response may answer; `null`: an unsolicited response, which must answer none. */
function sp(issuer: string, connection: SamlConnection, ids: { expected?: string | null; next?: string } = {}, own?: SpKeyPair): SAML {
  const urls = serviceProviderOf(issuer, 'saml', connection.id);
  const s = connection.settings;
  return new SAML({
    // SAML 2.0 Bindings §3.4.4.1: the redirect's query (SAMLRequest, RelayState, SigAlg) signed with RSA-SHA256.
    ...(own && s.signAuthnRequest ? { privateKey: own.privateKey, signatureAlgorithm: 'sha256' as const } : {}),
    ...(own && s.wantAssertionsEncrypted ? { decryptionPvk: own.privateKey } : {}),
    issuer: urls.entityId!,
    callbackUrl: urls.acsUrl!,
    audience: urls.entityId!,
    entryPoint: s.idpSsoUrl,
    idpIssuer: s.idpEntityId,
    idpCert: s.idpCertificates,
    wantAssertionsSigned: s.wantAssertionsSigned,
    wantAuthnResponseSigned: s.wantResponseSigned,
    acceptedClockSkewMs: SAML_CLOCK_SKEW_MS,
    identifierFormat: null,
    // An unsolicited response carries no InResponseTo (ifPresent with a cache that knows no request refuses one).
    validateInResponseTo: ids.expected === null ? ValidateInResponseTo.ifPresent : ValidateInResponseTo.always,
    // The one request this browser started (from its sealed transaction cookie, whose own expiry bounds the age):
    // nothing else is a valid InResponseTo. The value is read as the request's creation time.
    cacheProvider: {
      saveAsync: async () => null,
      getAsync: async (key: string) => (typeof ids.expected === 'string' && key === ids.expected ? new Date().toISOString() : null),
      removeAsync: async () => null,
    },
    generateUniqueId: () => ids.next ?? `_${randomBytes(20).toString('hex')}`,
  });
}

/** The IdP's sign-in URL with a fresh AuthnRequest (signed when the connection says so), and its ID for the transaction cookie. */
export async function samlAuthnRequest(issuer: string, connection: SamlConnection, relayState: string, own?: SpKeyPair): Promise<{ url: string; requestId: string }> {
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const url = await sp(issuer, connection, { next: requestId }, own).getAuthorizeUrlAsync(relayState, undefined, {});
  return { url, requestId };
}

/**
 * Our SP metadata for this connection: entity ID, ACS over HTTP-POST, and our certificate as a signing KeyDescriptor
 * (with AuthnRequestsSigned) and/or an encryption one, as the connection signs and decrypts.
 */
export function samlServiceProviderMetadata(issuer: string, connection: SamlConnection, own?: SpKeyPair): string {
  const s = connection.settings;
  // During a rollover: both certificates as signing keys (requests are signed with the current one until it is
  // promoted), and the next one as the encryption key, so IdPs that re-read the metadata encrypt to it.
  const signing = own ? [own.certificate, ...(own.next ? [own.next.certificate] : [])] : [];
  return sp(issuer, connection, {}, own).generateServiceProviderMetadata(own && s.wantAssertionsEncrypted ? (own.next?.certificate ?? own.certificate) : null, own && s.signAuthnRequest ? signing : null);
}

const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';
const XMLENC11 = 'http://www.w3.org/2009/xmlenc11#';
/**
 * What an EncryptedAssertion may use. Not RSA PKCS#1 v1.5 key transport (Bleichenbacher; XML Encryption 1.1 §5.5.1
 * note) nor 3DES; AES-CBC stays because AD FS and Entra ID send it (the decryption failure is answered like any
 * other invalid response, so it is no padding oracle).
 */
const ACCEPTED_ENCRYPTION = new Set([`${XMLENC}rsa-oaep-mgf1p`, `${XMLENC11}rsa-oaep`, `${XMLENC}aes128-cbc`, `${XMLENC}aes192-cbc`, `${XMLENC}aes256-cbc`, `${XMLENC11}aes128-gcm`, `${XMLENC11}aes192-gcm`, `${XMLENC11}aes256-gcm`]);

/** With `wantAssertionsEncrypted`: the Response carries an EncryptedAssertion and no plaintext one, with accepted algorithms. */
function assertEncryptedAsWanted(xml: string): void {
  let root: Element | null;
  try {
    root = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml').documentElement as unknown as Element | null;
  } catch {
    throw new SamlError('malformed', 'SAMLResponse is not XML');
  }
  if (!root) throw new SamlError('malformed', 'SAMLResponse is not XML');
  const children = Array.from(root.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1);
  if (children.some((c) => c.localName === 'Assertion')) throw new SamlError('encryption_required', 'this connection accepts only encrypted assertions');
  const encrypted = children.filter((c) => c.localName === 'EncryptedAssertion');
  if (encrypted.length !== 1) throw new SamlError('encryption_required', 'no EncryptedAssertion in the response');
  for (const method of Array.from(encrypted[0]!.getElementsByTagNameNS('*', 'EncryptionMethod'))) {
    const algorithm = method.getAttribute('Algorithm') ?? '';
    if (!ACCEPTED_ENCRYPTION.has(algorithm)) throw new SamlError('insecure_encryption', `encryption algorithm ${algorithm.slice(0, 100)} is not accepted`);
  }
}

function first(profile: Profile, names: readonly (string | undefined)[]): string | undefined {
  for (const n of names) {
    if (!n) continue;
    const v = profile[n];
    if (typeof v === 'string' && v) return v;
    if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  }
  return undefined;
}

function reasonOf(message: string): string {
  const m = message.toLowerCase();
  if (m.includes('invalid signature') || m.includes('signature')) return 'signature_invalid';
  if (m.includes('audience')) return 'audience_mismatch';
  if (m.includes('inresponseto')) return 'in_response_to_mismatch';
  if (m.includes('issuer')) return 'issuer_mismatch';
  if (m.includes('expired') || m.includes('notonorafter')) return 'expired';
  // node-saml's SubjectConfirmationData check (NotOnOrAfter, InResponseTo): expired or not for this request.
  if (m.includes('subject confirmation')) return 'subject_confirmation_invalid';
  if (m.includes('not yet valid') || m.includes('notbefore')) return 'not_yet_valid';
  if (m.includes('destination') || m.includes('recipient')) return 'destination_mismatch';
  return 'invalid';
}

/**
 * Validates an HTTP-POST SAMLResponse answering `expectedRequestId` (`null`: an unsolicited one, which must answer no
 * request) and records its assertion ID; returns who it names, or throws SamlError with a machine-readable reason.
 */
export async function validateSamlResponse(scope: TenantScope, issuer: string, connection: SamlConnection, samlResponse: string, expectedRequestId: string | null, own?: SpKeyPair): Promise<VerifiedIdentity> {
  if (samlResponse.length > SAML_RESPONSE_MAX_BYTES || !/^[A-Za-z0-9+/=\r\n]+$/.test(samlResponse)) throw new SamlError('malformed', 'SAMLResponse is not base64 of a bounded size');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  // No DTD: no external entities and no entity expansion, whatever the parser below would do with them.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlError('malformed', 'a DTD is not accepted');
  if (connection.settings.wantAssertionsEncrypted) assertEncryptedAsWanted(xml);
  let profile: Profile | null;
  const validate = (keys: SpKeyPair | undefined) => sp(issuer, connection, { expected: expectedRequestId }, keys).validatePostResponseAsync({ SAMLResponse: samlResponse });
  try {
    try {
      ({ profile } = await validate(own));
    } catch (e) {
      // During a rollover an IdP may already encrypt to the next certificate: the same checks again with that key
      // (the first failure is the one reported; nothing was recorded, the replay cache comes after).
      if (!(own?.next && connection.settings.wantAssertionsEncrypted)) throw e;
      ({ profile } = await validate({ ...own.next }).catch(() => Promise.reject(e)));
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new SamlError(reasonOf(message), message.slice(0, 300));
  }
  if (!profile?.nameID) throw new SamlError('invalid', 'no NameID in the assertion');
  // What node-saml leaves to the caller (SAML 2.0 Core §3.2.2, Profiles §4.1.4.3), read from what it verified:
  // the assertion's Issuer, the Response's Destination and the SubjectConfirmationData's Recipient must be ours.
  const acsUrl = serviceProviderOf(issuer, 'saml', connection.id).acsUrl!;
  if (profile.issuer !== connection.settings.idpEntityId) throw new SamlError('issuer_mismatch', `issuer ${String(profile.issuer).slice(0, 200)} is not the connection's IdP`);
  const responseTag = /^\s*(?:<\?xml[^>]*>\s*)?<(?:[\w.-]+:)?Response\b([^>]*)>/.exec(profile.getSamlResponseXml?.() ?? '')?.[1] ?? '';
  const destination = /\sDestination="([^"]*)"/.exec(responseTag)?.[1];
  if (destination !== undefined && destination !== acsUrl) throw new SamlError('destination_mismatch', `Destination ${destination.slice(0, 200)} is not our ACS`);
  const recipients = [...(profile.getAssertionXml?.() ?? '').matchAll(/<(?:[\w.-]+:)?SubjectConfirmationData\b[^>]*\sRecipient="([^"]*)"/g)].map((r) => r[1]);
  if (recipients.some((r) => r !== acsUrl)) throw new SamlError('recipient_mismatch', 'SubjectConfirmationData Recipient is not our ACS');
  const assertion = profile.getAssertion?.() as { Assertion?: { $?: { ID?: string }; Conditions?: { $?: { NotOnOrAfter?: string } }[] } } | undefined;
  const assertionId = assertion?.Assertion?.$?.ID;
  if (!assertionId) throw new SamlError('invalid', 'assertion without an ID');
  const notOnOrAfter = Date.parse(assertion?.Assertion?.Conditions?.[0]?.$?.NotOnOrAfter ?? '');
  const keepUntil = new Date(Math.max(Number.isFinite(notOnOrAfter) ? notOnOrAfter : 0, Date.now()) + SAML_CLOCK_SKEW_MS + 3_600_000);
  if (!(await rememberSamlAssertion(scope, connection.id, assertionId, keepUntil))) throw new SamlError('replayed', `assertion ${assertionId.slice(0, 64)} was already used`);
  const mapping = connection.settings.attributeMapping ?? {};
  const email = first(profile, [mapping.email, ...EMAIL_ATTRIBUTES]) ?? (profile.nameIDFormat === EMAIL_NAME_ID ? profile.nameID : undefined);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(profile)) if (typeof v !== 'function') raw[k] = v;
  return {
    subject: profile.nameID,
    email,
    emailVerified: email !== undefined,
    name: undefined,
    givenName: first(profile, [mapping.givenName, ...GIVEN_NAME_ATTRIBUTES]),
    familyName: first(profile, [mapping.familyName, ...FAMILY_NAME_ATTRIBUTES]),
    claims: raw,
  };
}
