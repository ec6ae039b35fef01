/**
 * Reading an identity provider's SAML 2.0 metadata (SAML V2.0 Metadata, OASIS saml-metadata-2.0-os §2.3–2.4): the
 * entity ID, the SingleSignOnService for the HTTP-Redirect binding (how we send AuthnRequests) and the signing
 * certificates. The document comes from an administrator or from a URL someone else serves, so it is treated as
 * hostile: bounded size, no DOCTYPE (no entity expansion, no external entities), namespace-aware lookups only, and
 * every certificate must parse. Its own signature is not checked: the URL is https and the administrator chose it.
 */
import { X509Certificate } from 'node:crypto';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { Invalid } from '../platform/errors/domain.ts';

export const MAX_METADATA_BYTES = 512 * 1024;
const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface IdpMetadata {
  idpEntityId: string;
  idpSsoUrl: string;
  idpCertificates: string[];
}

export interface CertificateInfo {
  subject: string;
  fingerprint: string;
  notAfter: string;
}

const refuse = (detail: string) => new Invalid(`SAML metadata: ${detail}`, { field: 'metadata' });

function children(parent: Element, ns: string, name: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name) out.push(n as Element);
  }
  return out;
}

/** PEM of a base64 DER certificate as metadata carries it (whitespace anywhere). */
function toPem(base64: string): string {
  const body = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw refuse('an X509Certificate is not base64.');
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export function describeCertificate(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  return { subject: x.subject.replace(/\n/g, ', '), fingerprint: x.fingerprint256, notAfter: new Date(x.validTo).toISOString() };
}

/**
 * The IdP of `xml`: an EntityDescriptor, or an EntitiesDescriptor holding exactly one IdP (or the one whose entityID
 * is `entityId`). Certificates are the KeyDescriptors with `use="signing"` or no `use` (§2.4.1.1), without duplicates.
 */
export function parseIdpMetadata(xml: string, entityId?: string): IdpMetadata {
  if (Buffer.byteLength(xml, 'utf8') > MAX_METADATA_BYTES) throw refuse(`larger than ${MAX_METADATA_BYTES / 1024} KiB.`);
  if (xml.includes('\0')) throw refuse('contains a NUL character.');
  if (/<!DOCTYPE/i.test(xml)) throw refuse('a DOCTYPE is not accepted.');
  const errors: string[] = [];
  let root: Element | null;
  try {
    root = new DOMParser({ onError: (level, message) => void (level !== 'warning' && errors.push(message)) }).parseFromString(xml, 'text/xml').documentElement;
  } catch {
    // xmldom throws on fatal errors after reporting them.
    throw refuse('not well-formed XML.');
  }
  if (errors.length || !root) throw refuse('not well-formed XML.');
  if (root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    throw refuse('the document is not an md:EntityDescriptor or md:EntitiesDescriptor.');
  }
  const entities = root.localName === 'EntityDescriptor' ? [root] : collectEntities(root);
  const idps = entities.filter((e) => children(e, MD, 'IDPSSODescriptor').some(supportsSaml2));
  const chosen = entityId !== undefined ? idps.filter((e) => e.getAttribute('entityID') === entityId) : idps;
  if (chosen.length === 0) throw refuse(entityId !== undefined ? `no identity provider with entityID ${entityId}.` : 'no IDPSSODescriptor for SAML 2.0.');
  if (chosen.length > 1) throw refuse(`${chosen.length} identity providers; name the one to use with \`entityId\`.`);
  const entity = chosen[0]!;
  const idpEntityId = entity.getAttribute('entityID') ?? '';
  if (!idpEntityId || idpEntityId.length > 1024) throw refuse('the entityID is missing or longer than 1024 characters.');
  const sso = children(entity, MD, 'IDPSSODescriptor').filter(supportsSaml2);
  const redirect = sso.flatMap((d) => children(d, MD, 'SingleSignOnService')).find((s) => s.getAttribute('Binding') === HTTP_REDIRECT);
  const location = redirect?.getAttribute('Location') ?? '';
  if (!redirect) throw refuse('no SingleSignOnService with the HTTP-Redirect binding (the one AuthnRequests are sent with).');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw refuse('the SingleSignOnService Location is not a URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('the SingleSignOnService Location is not http(s).');
  const pems = new Map<string, string>();
  for (const kd of sso.flatMap((d) => children(d, MD, 'KeyDescriptor'))) {
    const use = kd.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const info of children(kd, DS, 'KeyInfo')) {
      for (const data of children(info, DS, 'X509Data')) {
        for (const cert of children(data, DS, 'X509Certificate')) {
          const pem = toPem(cert.textContent ?? '');
          let fingerprint: string;
          try {
            fingerprint = new X509Certificate(pem).fingerprint256;
          } catch {
            throw refuse('an X509Certificate does not parse.');
          }
          pems.set(fingerprint, pem);
        }
      }
    }
  }
  if (pems.size === 0) throw refuse('no signing certificate (KeyDescriptor use="signing" with an X509Certificate).');
  if (pems.size > 5) throw refuse('more than 5 signing certificates.');
  return { idpEntityId, idpSsoUrl: url.href, idpCertificates: [...pems.values()] };
}

function supportsSaml2(descriptor: Element): boolean {
  return (descriptor.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(PROTOCOL);
}

function collectEntities(group: Element, depth = 0): Element[] {
  if (depth > 4) return [];
  return [...children(group, MD, 'EntityDescriptor'), ...children(group, MD, 'EntitiesDescriptor').flatMap((g) => collectEntities(g, depth + 1))];
}
