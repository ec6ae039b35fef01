/**
 * The built-in IdP simulator (issue #11 item 8; Scalekit's development "IdP Simulator"): a SAML 2.0 and an OpenID
 * Connect identity provider served at `/simulator` on every tenant host, which signs in whoever is typed into its
 * page. It lets a newcomer run the whole SSO flow — our SAML SP and generic-OIDC code, routing, JIT membership and
 * tokens with `org_id` — with nothing installed. It exists only when IDP_SIMULATOR says so (platform/config.ts).
 *
 * - It answers only this tenant's connections that use it: a SAML AuthnRequest must come from a connection whose IdP
 *   is the simulator and name that connection's ACS; an OIDC request must carry the simulator's client id and the
 *   redirect URI of such a connection. It is never an open signer for another service provider.
 * - One RSA key per tenant (idp_simulators, sealed) signs assertions (xml-crypto, RSA-SHA256, exclusive C14N) and ID
 *   tokens (RS256); its self-signed certificate is what the simulator connections trust.
 * - What passes through the browser between its steps (the request being answered, the authorization code) is sealed
 *   with the master key and bound to the tenant, with a short expiry; nothing else is stored. A code is not
 *   remembered once used: within its 60 s it could be exchanged twice (our callback exchanges it once).
 * - As a real IdP would for such a connection: with `signAuthnRequest` it requires the HTTP-Redirect signature and
 *   checks it with the connection's certificate; with `wantAssertionsEncrypted` it encrypts the signed assertion to
 *   the connection's encryption certificate (RSA-OAEP, AES-256-GCM), the next one during a rollover, as our metadata
 *   publishes it.
 */
import { createHash, createPrivateKey, createPublicKey, createVerify, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { encrypt } from 'xml-encryption';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import type { TenantScope } from '../platform/db.ts';
import { generateSecret, safeEqual, type Keyring } from '../platform/crypto.ts';
import { Conflict, NotFound } from '../platform/errors/domain.ts';
import { InvalidClient, InvalidGrant, UnsupportedGrantType } from '../platform/errors/oauth.ts';
import type { Credentials } from '../oauth/client-auth.ts';
import { systemActor, type Actor } from '../audit/service.ts';
import { createOrganization, getOrganizationByExternalId, type Organization } from '../organizations/service.ts';
import { addDomain, listDomains, markDomainVerified } from '../organizations/domains.ts';
import { createConnection, findTestableConnection, listConnections, serviceProviderOf, setConnectionStatus, type Connection, type RoutableConnection } from '../connections/service.ts';
import { newSpCredential } from '../connections/sp-credentials.ts';
import { simulatorRepository } from './repository.ts';

export const SIMULATOR_PREFIX = '/simulator';
/** The OIDC client id every simulator OIDC connection uses. */
export const SIMULATOR_CLIENT_ID = 'iam-idp-simulator';
/** The test organization made in the default tenant (externalId, so it is found again at the next start). */
export const DEMO_ORGANIZATION = { externalId: 'idp-simulator', slug: 'idp-simulator', displayName: 'Simulator Org (example.com)', domains: ['example.com', 'example.org'] } as const;
/** How long the simulator's page, and an authorization code, stay usable. */
const REQUEST_TTL_MS = 10 * 60_000;
const CODE_TTL_MS = 60_000;
const ID_TOKEN_TTL_S = 300;
/** An AuthnRequest is a few hundred bytes; anything inflating past this is refused. */
const MAX_AUTHN_REQUEST_BYTES = 16_384;

export class SimulatorError extends Error {}

export function simulatorUrls(issuer: string) {
  const base = `${issuer.replace(/\/$/, '')}${SIMULATOR_PREFIX}`;
  return {
    samlEntityId: `${base}/saml/metadata`,
    samlSsoUrl: `${base}/saml/sso`,
    oidcIssuer: `${base}/oidc`,
    oidcAuthorize: `${base}/oidc/authorize`,
    oidcToken: `${base}/oidc/token`,
    oidcJwks: `${base}/oidc/jwks`,
  };
}

interface Credential {
  privateKey: KeyObject;
  certificate: string;
  jwk: JWK;
  clientSecretHash: Buffer;
}

const keyContext = (tenantId: string) => `${tenantId}/idp-simulator/signing`;
const sealContext = (tenantId: string, what: 'saml-request' | 'oidc-request' | 'code') => `${tenantId}/idp-simulator/${what}`;

/** The tenant's simulator key and certificate, made the first time they are needed. */
export async function simulatorCredential(scope: TenantScope, keyring: Keyring): Promise<Credential> {
  const repo = simulatorRepository(scope);
  let row = await repo.find();
  if (!row) {
    const made = await newSpCredential('IAM IdP simulator');
    // A random secret nobody knows: setUpDemoOrganization replaces it when it makes the OIDC connection.
    await repo.insertIfAbsent({ signingKeySealed: keyring.seal(made.privateKey, keyContext(scope.tenantId)), certificate: made.certificate, clientSecretHash: keyring.hashSecret(generateSecret()) });
    row = (await repo.find())!;
  }
  const privateKey = createPrivateKey(keyring.unseal(row.signingKeySealed, keyContext(scope.tenantId)));
  const jwk = await exportJWK(createPublicKey(privateKey));
  return { privateKey, certificate: row.certificate, jwk: { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' }, clientSecretHash: row.clientSecretHash };
}

/** Who the simulator signs in: what was typed on its page. */
export interface SimulatedUser {
  email: string;
  givenName: string;
  familyName: string;
  groups: string[];
}

const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]*$/u;

/** The page's form, checked: an address with one `@`, printable names, at most 20 groups. */
export function simulatedUserOf(form: Record<string, unknown>): SimulatedUser {
  const text = (name: string, max: number) => {
    const v = typeof form[name] === 'string' ? (form[name] as string).trim() : '';
    if (v.length > max || !PRINTABLE.test(v)) throw new SimulatorError(`${name}: at most ${max} printable characters`);
    return v;
  };
  const email = text('email', 320);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new SimulatorError('email: an address such as john.doe@example.com');
  const groups = text('groups', 2000).split(',').map((g) => g.trim()).filter(Boolean);
  if (groups.length > 20 || groups.some((g) => g.length > 100)) throw new SimulatorError('groups: at most 20, each at most 100 characters');
  return { email, givenName: text('givenName', 100), familyName: text('familyName', 100), groups };
}

function seal<T>(keyring: Keyring, context: string, value: T, ttlMs: number): string {
  return keyring.seal(JSON.stringify({ ...value, expiresAt: Date.now() + ttlMs }), context);
}

function unseal<T>(keyring: Keyring, context: string, sealed: unknown): T {
  let value: T & { expiresAt: number };
  try {
    value = JSON.parse(keyring.unseal(String(sealed ?? ''), context));
  } catch {
    throw new SimulatorError('not issued by this simulator');
  }
  if (!(value.expiresAt > Date.now())) throw new SimulatorError('expired');
  return value;
}

// ---------------------------------------------------------------------------------------------------------- SAML

/** The request the simulator's page answers: sealed into the page, so its form cannot be pointed elsewhere. */
export interface SamlRequestContext {
  connectionId: string;
  /** Null: IdP-initiated (an unsolicited response, as a dashboard tile sends). */
  requestId: string | null;
  relayState: string;
}

const uuidIn = (url: string, pattern: RegExp) => pattern.exec(url)?.[1];
type SamlConnection = Extract<RoutableConnection, { type: 'saml' }>;

/** A SAML connection of this tenant that uses the simulator, by id; anything else is a SimulatorError. */
async function simulatorSamlConnection(scope: TenantScope, issuer: string, id: string | undefined): Promise<SamlConnection> {
  // Any status: a test sign-in from the Admin Portal tries a draft.
  const c = id ? await findTestableConnection(scope, id) : undefined;
  if (c?.type !== 'saml' || c.settings.idpEntityId !== simulatorUrls(issuer).samlEntityId) throw new SimulatorError('the simulator answers only this tenant\'s SAML connections that use it');
  return c;
}

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

/**
 * SAML 2.0 Bindings §3.4.4.1: the signature of an HTTP-Redirect message is over `SAMLRequest=…&RelayState=…&SigAlg=…`
 * exactly as they appear in the query (not re-encoded). Checked with the connection's certificate, or during a
 * rollover its next one.
 */
function assertSignedRedirect(connection: SamlConnection, rawQuery: string): void {
  const raw = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0 && !raw.has(part.slice(0, eq))) raw.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if (!sigAlg || !signature) throw new SimulatorError('this connection signs its AuthnRequests, and this one is not signed');
  let alg: string;
  try {
    alg = decodeURIComponent(sigAlg);
  } catch {
    throw new SimulatorError('SigAlg is malformed');
  }
  if (alg !== RSA_SHA256) throw new SimulatorError(`SigAlg ${alg.slice(0, 100)} is not RSA-SHA256`);
  const octets = ['SAMLRequest', 'RelayState', 'SigAlg'].filter((k) => raw.has(k)).map((k) => `${k}=${raw.get(k)}`).join('&');
  let bytes: Buffer;
  try {
    bytes = Buffer.from(decodeURIComponent(signature), 'base64');
  } catch {
    throw new SimulatorError('Signature is malformed');
  }
  const certificates = [connection.spSigningCert, connection.spNextSigningCert].filter((c): c is string => typeof c === 'string');
  const valid = certificates.some((pem) => createVerify('RSA-SHA256').update(octets).verify(new X509Certificate(pem).publicKey, bytes));
  if (!valid) throw new SimulatorError('the AuthnRequest signature does not verify with the connection\'s certificate');
}

/**
 * Reads an AuthnRequest (SAML 2.0 Bindings §3.4: HTTP-Redirect, DEFLATE + base64) and finds the connection that sent
 * it: its Issuer is our SP entity ID of a simulator connection, and its AssertionConsumerServiceURL (when given) is
 * that connection's ACS. `rawQuery`: the query as received, for the signature of a connection that signs requests.
 */
export async function readAuthnRequest(scope: TenantScope, issuer: string, encoded: unknown, relayState: unknown, rawQuery: string): Promise<SamlRequestContext> {
  if (typeof encoded !== 'string' || encoded.length > 2 * MAX_AUTHN_REQUEST_BYTES) throw new SimulatorError('no SAMLRequest');
  let xml: string;
  try {
    xml = inflateRawSync(Buffer.from(encoded, 'base64'), { maxOutputLength: MAX_AUTHN_REQUEST_BYTES }).toString('utf8');
  } catch {
    throw new SimulatorError('SAMLRequest is not a deflated, base64-encoded AuthnRequest');
  }
  if (/<!DOCTYPE/i.test(xml)) throw new SimulatorError('SAMLRequest with a DOCTYPE');
  let root: Element | null;
  try {
    // @xmldom/xmldom throws on a fatal error (not well-formed XML) whatever onError does.
    root = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml').documentElement as unknown as Element | null;
  } catch {
    throw new SimulatorError('SAMLRequest is not well-formed XML');
  }
  if (!root || root.localName !== 'AuthnRequest' || root.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol') throw new SimulatorError('SAMLRequest is not an AuthnRequest');
  const requestId = root.getAttribute('ID') ?? '';
  if (!/^[A-Za-z_][\w.-]{0,255}$/.test(requestId)) throw new SimulatorError('AuthnRequest without a valid ID');
  const spEntityId = Array.from(root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer'))[0]?.textContent?.trim() ?? '';
  const id = uuidIn(spEntityId, /\/sso\/saml\/([0-9a-f-]{36})\/metadata$/);
  const connection = await simulatorSamlConnection(scope, issuer, id);
  const sp = serviceProviderOf(issuer, 'saml', connection.id);
  const acs = root.getAttribute('AssertionConsumerServiceURL');
  if (spEntityId !== sp.entityId || (acs && acs !== sp.acsUrl)) throw new SimulatorError('the AuthnRequest names another service provider');
  if (connection.settings.signAuthnRequest) assertSignedRedirect(connection, rawQuery);
  return { connectionId: connection.id, requestId, relayState: typeof relayState === 'string' ? relayState.slice(0, 1024) : '' };
}

/** IdP-initiated: the simulator starts at a connection by itself, as an IdP's dashboard tile does. */
export async function unsolicitedRequest(scope: TenantScope, issuer: string, connectionId: unknown): Promise<SamlRequestContext> {
  const c = await simulatorSamlConnection(scope, issuer, typeof connectionId === 'string' ? connectionId : undefined);
  return { connectionId: c.id, requestId: null, relayState: '' };
}

export const sealSamlRequest = (keyring: Keyring, tenantId: string, ctx: SamlRequestContext) => seal(keyring, sealContext(tenantId, 'saml-request'), ctx, REQUEST_TTL_MS);
export const openSamlRequest = (keyring: Keyring, tenantId: string, sealed: unknown) => unseal<SamlRequestContext>(keyring, sealContext(tenantId, 'saml-request'), sealed);

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const samlId = () => `_${randomBytes(20).toString('hex')}`;

function signEnveloped(xml: string, element: 'Assertion' | 'Response', credential: Credential): string {
  const xpath = `/*[local-name(.)='${element}']`;
  const sig = new SignedXml({
    privateKey: credential.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicCert: credential.certificate,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({ xpath, transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'], digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256' });
  // SAML 2.0 Core §5.4.2: the Signature follows the element's Issuer.
  sig.computeSignature(xml, { location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/**
 * The signed Response for `user` (SAML 2.0 Profiles §4.1.4.2): the assertion is always signed, the Response too when
 * the connection wants it; Destination, Recipient and Audience name the connection; valid for 5 minutes.
 */
export async function samlResponse(scope: TenantScope, keyring: Keyring, issuer: string, ctx: SamlRequestContext, user: SimulatedUser): Promise<{ acsUrl: string; samlResponse: string; relayState: string }> {
  const connection = await simulatorSamlConnection(scope, issuer, ctx.connectionId);
  const credential = await simulatorCredential(scope, keyring);
  const sp = serviceProviderOf(issuer, 'saml', connection.id);
  const idp = simulatorUrls(issuer).samlEntityId;
  const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
  const inResponseTo = ctx.requestId ? ` InResponseTo="${xmlEscape(ctx.requestId)}"` : '';
  const attribute = (name: string, values: string[]) =>
    values.length ? `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue>${xmlEscape(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>` : '';
  const assertion =
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${samlId()}" Version="2.0" IssueInstant="${at(0)}">` +
    `<saml:Issuer>${xmlEscape(idp)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${xmlEscape(user.email)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${at(300_000)}" Recipient="${xmlEscape(sp.acsUrl!)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${at(-30_000)}" NotOnOrAfter="${at(300_000)}"><saml:AudienceRestriction><saml:Audience>${xmlEscape(sp.entityId!)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${at(0)}" SessionIndex="${samlId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attribute('email', [user.email])}${attribute('givenName', user.givenName ? [user.givenName] : [])}${attribute('sn', user.familyName ? [user.familyName] : [])}${attribute('groups', user.groups)}</saml:AttributeStatement>` +
    `</saml:Assertion>`;
  const signed = signEnveloped(assertion, 'Assertion', credential);
  const encryptTo = connection.settings.wantAssertionsEncrypted ? (connection.spNextSigningCert ?? connection.spSigningCert ?? undefined) : undefined;
  let response =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${samlId()}" Version="2.0" IssueInstant="${at(0)}" Destination="${xmlEscape(sp.acsUrl!)}"${inResponseTo}>` +
    `<saml:Issuer>${xmlEscape(idp)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    (encryptTo ? `<saml:EncryptedAssertion>${await encryptAssertion(signed, encryptTo)}</saml:EncryptedAssertion>` : signed) +
    `</samlp:Response>`;
  if (connection.settings.wantResponseSigned) response = signEnveloped(response, 'Response', credential);
  return { acsUrl: sp.acsUrl!, samlResponse: Buffer.from(response, 'utf8').toString('base64'), relayState: ctx.relayState };
}

/** XML Encryption 1.1 to the SP's certificate: RSA-OAEP key transport, AES-256-GCM content, as our SP accepts. */
function encryptAssertion(xml: string, certificate: string): Promise<string> {
  const rsaPub = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return new Promise((resolve, reject) =>
    encrypt(xml, { rsa_pub: rsaPub, pem: certificate, encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm', keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', disallowEncryptionWithInsecureAlgorithm: true }, (error, out) =>
      error ? reject(error) : resolve(out),
    ),
  );
}

/** The simulator's SAML metadata (SAML 2.0 Metadata §2.4.3): entity ID, HTTP-Redirect SSO URL, signing certificate. */
export async function samlIdpMetadata(scope: TenantScope, keyring: Keyring, issuer: string): Promise<string> {
  const { certificate } = await simulatorCredential(scope, keyring);
  const urls = simulatorUrls(issuer);
  const der = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${xmlEscape(urls.samlEntityId)}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${xmlEscape(urls.samlSsoUrl)}"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>\n`
  );
}

// ---------------------------------------------------------------------------------------------------------- OIDC

/** OpenID Connect Discovery 1.0 §3, as our generic-OIDC connections read it. */
export function oidcDiscovery(issuer: string): Record<string, unknown> {
  const urls = simulatorUrls(issuer);
  return {
    issuer: urls.oidcIssuer,
    authorization_endpoint: urls.oidcAuthorize,
    token_endpoint: urls.oidcToken,
    jwks_uri: urls.oidcJwks,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'email', 'profile'],
    claims_supported: ['sub', 'email', 'email_verified', 'name', 'given_name', 'family_name', 'groups'],
    authorization_response_iss_parameter_supported: true,
  };
}

export interface OidcRequestContext {
  connectionId: string;
  redirectUri: string;
  state: string;
  nonce: string | null;
  codeChallenge: string;
}

/**
 * An authorization request (OpenID Connect Core §3.1.2.1) from one of this tenant's simulator connections: the
 * simulator's client id, that connection's redirect URI, `code` with PKCE S256 (RFC 7636).
 */
export async function readAuthorizationRequest(scope: TenantScope, issuer: string, q: Record<string, unknown>): Promise<OidcRequestContext> {
  const str = (name: string) => (typeof q[name] === 'string' ? (q[name] as string) : undefined);
  if (str('client_id') !== SIMULATOR_CLIENT_ID) throw new SimulatorError(`client_id must be ${SIMULATOR_CLIENT_ID}`);
  const redirectUri = str('redirect_uri') ?? '';
  const id = uuidIn(redirectUri, /\/sso\/oidc\/([0-9a-f-]{36})\/callback$/);
  const c = id ? await findTestableConnection(scope, id) : undefined;
  if (c?.type !== 'oidc' || c.settings.issuer !== simulatorUrls(issuer).oidcIssuer || serviceProviderOf(issuer, 'oidc', c.id).redirectUri !== redirectUri) {
    throw new SimulatorError('redirect_uri is not a callback of this tenant\'s OIDC connections that use the simulator');
  }
  if (str('response_type') !== 'code') throw new SimulatorError('response_type must be code');
  if (!str('scope')?.split(' ').includes('openid')) throw new SimulatorError('scope must include openid');
  const codeChallenge = str('code_challenge') ?? '';
  if (str('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) throw new SimulatorError('PKCE with S256 is required');
  const state = str('state') ?? '';
  const nonce = str('nonce') ?? null;
  if (state.length > 512 || (nonce?.length ?? 0) > 512) throw new SimulatorError('state or nonce too long');
  return { connectionId: c.id, redirectUri, state, nonce, codeChallenge };
}

export const sealOidcRequest = (keyring: Keyring, tenantId: string, ctx: OidcRequestContext) => seal(keyring, sealContext(tenantId, 'oidc-request'), ctx, REQUEST_TTL_MS);
export const openOidcRequest = (keyring: Keyring, tenantId: string, sealed: unknown) => unseal<OidcRequestContext>(keyring, sealContext(tenantId, 'oidc-request'), sealed);

/** Where the browser goes after the page: the redirect URI with the (sealed) code, state and RFC 9207 `iss`. */
export function authorizationResponse(keyring: Keyring, tenantId: string, issuer: string, ctx: OidcRequestContext, user: SimulatedUser): string {
  const code = seal(keyring, sealContext(tenantId, 'code'), { ...ctx, user }, CODE_TTL_MS);
  const url = new URL(ctx.redirectUri);
  url.searchParams.set('code', code);
  url.searchParams.set('state', ctx.state);
  url.searchParams.set('iss', simulatorUrls(issuer).oidcIssuer);
  return url.toString();
}

/**
 * The token endpoint (RFC 6749 §4.1.3): the simulator's client authenticated by its secret (client_secret_post or
 * _basic as oauth/client-auth.ts reads them, compared as HMACs in constant time), the code's redirect URI and PKCE verifier, then an ID token.
 */
export async function exchangeCode(scope: TenantScope, keyring: Keyring, issuer: string, form: Record<string, unknown>, presented: Credentials): Promise<Record<string, unknown>> {
  const str = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
  const credential = await simulatorCredential(scope, keyring);
  const secretMatches = [presented.secret, presented.rawSecret].some((s) => s !== undefined && safeEqual(keyring.hashSecret(s), credential.clientSecretHash));
  if (presented.clientId !== SIMULATOR_CLIENT_ID || !secretMatches) throw new InvalidClient('client authentication failed');
  if (str('grant_type') !== 'authorization_code') throw new UnsupportedGrantType('only authorization_code');
  let ctx: OidcRequestContext & { user: SimulatedUser };
  try {
    ctx = unseal(keyring, sealContext(scope.tenantId, 'code'), str('code'));
  } catch (e) {
    throw new InvalidGrant(`code ${(e as Error).message}`);
  }
  if (str('redirect_uri') !== ctx.redirectUri) throw new InvalidGrant('redirect_uri differs from the authorization request');
  const verifier = str('code_verifier') ?? '';
  if (createHash('sha256').update(verifier).digest('base64url') !== ctx.codeChallenge) throw new InvalidGrant('code_verifier does not match the code_challenge');
  const u = ctx.user;
  const now = Math.floor(Date.now() / 1000);
  const idToken = await new SignJWT({
    email: u.email,
    email_verified: true,
    name: [u.givenName, u.familyName].filter(Boolean).join(' ') || u.email,
    ...(u.givenName ? { given_name: u.givenName } : {}),
    ...(u.familyName ? { family_name: u.familyName } : {}),
    ...(u.groups.length ? { groups: u.groups } : {}),
    ...(ctx.nonce ? { nonce: ctx.nonce } : {}),
    auth_time: now,
  })
    .setProtectedHeader({ alg: 'RS256', kid: credential.jwk.kid!, typ: 'JWT' })
    .setIssuer(simulatorUrls(issuer).oidcIssuer)
    .setAudience(SIMULATOR_CLIENT_ID)
    // The same person (by address) is the same subject every time, so a second sign-in finds the first's link.
    .setSubject(`sim-${createHash('sha256').update(u.email.toLowerCase()).digest('base64url').slice(0, 32)}`)
    .setIssuedAt(now)
    .setExpirationTime(now + ID_TOKEN_TTL_S)
    .sign(credential.privateKey);
  return { access_token: randomBytes(32).toString('base64url'), token_type: 'Bearer', expires_in: ID_TOKEN_TTL_S, id_token: idToken, scope: 'openid email profile' };
}

export async function oidcJwks(scope: TenantScope, keyring: Keyring): Promise<{ keys: JWK[] }> {
  return { keys: [(await simulatorCredential(scope, keyring)).jwk] };
}

// ------------------------------------------------------------------------------------------- the test organization

export interface DemoOrganization {
  organization: Organization;
  saml: Connection;
  oidc: Connection;
  /** Domains another organization of the tenant holds verified already (left to it). */
  skippedDomains: string[];
}

/**
 * The test organization (issue #11 item 8): `example.com` and `example.org` verified (by hand, as the simulator's
 * actor: no DNS here), and an active SAML and OIDC connection at the simulator, SAML first (so `organization_id` and
 * the login page route to SAML; `connection_id` picks OIDC). Idempotent: each start finds what the last one made,
 * and only adds what is missing. Every change is audited with the actor `system:idp-simulator`.
 */
export async function setUpDemoOrganization(scope: TenantScope, keyring: Keyring, issuer: string): Promise<DemoOrganization> {
  const actor: Actor = systemActor('idp-simulator');
  let organization: Organization;
  try {
    organization = await getOrganizationByExternalId(scope, DEMO_ORGANIZATION.externalId);
  } catch (e) {
    if (!(e instanceof NotFound)) throw e;
    organization = await createOrganization(scope, actor, { displayName: DEMO_ORGANIZATION.displayName, externalId: DEMO_ORGANIZATION.externalId, slug: DEMO_ORGANIZATION.slug });
  }
  const skippedDomains: string[] = [];
  const held = await listDomains(scope, organization.id);
  for (const name of DEMO_ORGANIZATION.domains) {
    const domain = held.find((d) => d.domain === name) ?? (await addDomain(scope, actor, organization.id, name));
    if (domain.status === 'verified') continue;
    try {
      await markDomainVerified(scope, actor, organization.id, domain.id);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      skippedDomains.push(name);
    }
  }
  const urls = simulatorUrls(issuer);
  const existing = await listConnections(scope, issuer, organization.id);
  const credential = await simulatorCredential(scope, keyring);
  let saml = existing.find((c) => c.type === 'saml' && c.settings.idpEntityId === urls.samlEntityId);
  if (!saml) {
    saml = await createConnection(scope, actor, keyring, issuer, organization.id, {
      type: 'saml',
      displayName: 'IdP Simulator (SAML)',
      settings: { idpEntityId: urls.samlEntityId, idpSsoUrl: urls.samlSsoUrl, idpCertificates: [credential.certificate] },
      jitPolicy: 'verified_domains',
      defaultOrganizationRoles: ['member'],
    });
    saml = await setConnectionStatus(scope, actor, issuer, saml.id, 'active');
  }
  let oidc = existing.find((c) => c.type === 'oidc' && c.settings.issuer === urls.oidcIssuer);
  if (!oidc) {
    // The simulator's one client secret: made here, stored as an HMAC by the simulator and sealed in the connection.
    const secret = generateSecret();
    await simulatorRepository(scope).setClientSecretHash(keyring.hashSecret(secret));
    oidc = await createConnection(scope, actor, keyring, issuer, organization.id, {
      type: 'oidc',
      displayName: 'IdP Simulator (OIDC)',
      settings: { issuer: urls.oidcIssuer, clientId: SIMULATOR_CLIENT_ID, scopes: ['openid', 'email', 'profile'] },
      clientSecret: secret,
      jitPolicy: 'verified_domains',
      defaultOrganizationRoles: ['member'],
    });
    oidc = await setConnectionStatus(scope, actor, issuer, oidc.id, 'active');
  }
  return { organization, saml, oidc, skippedDomains };
}
