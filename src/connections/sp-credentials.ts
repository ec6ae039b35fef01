/**
 * A SAML connection's own signing credential (issue #11: "AuthnRequest signing optional"): an RSA-2048 key and a
 * self-signed X.509 certificate for it, which the IdP is given (in our SP metadata, or by hand) to check the
 * signatures of our AuthnRequests. SAML uses the certificate only as a container for the public key (SAML 2.0
 * Metadata §2.4.1.1 KeyDescriptor), so self-signed is what IdPs expect; it is valid for ten years.
 *
 * Node can sign but not build certificates, so the DER (X.509, RFC 5280 §4.1) is written here: a v3 certificate with
 * no extensions, sha256WithRSAEncryption, subject = issuer = CN=<entity ID's host> SAML SP.
 */
import { generateKeyPair as generateKeyPairCb, randomBytes, sign, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPair = promisify(generateKeyPairCb);

export interface SpCredential {
  /** PKCS #8 PEM. */
  privateKey: string;
  certificate: string;
}

const VALID_YEARS = 10;

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const sequence = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => der(0x31, Buffer.concat(parts));
/** A non-negative INTEGER: a leading zero keeps the top bit from reading as a sign. */
const integer = (bytes: Buffer) => der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
const NULL = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2))) : der(0x18, Buffer.from(iso));
}

const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), NULL);
const COMMON_NAME = '2.5.4.3';

function pem(label: string, body: Buffer): string {
  return `-----BEGIN ${label}-----\n${body.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * A fresh key and its self-signed certificate; `name` goes into the certificate's CN (at most 64 characters).
 * `random`: the 16 bytes the serial number is made of (tests pass fixed ones).
 */
export async function newSpCredential(name: string, now = new Date(), random = randomBytes(16)): Promise<SpCredential> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  const subject = sequence(set(sequence(oid(COMMON_NAME), utf8(name.slice(0, 64)))));
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALID_YEARS);
  // RFC 5280 §4.1.2.2: a positive INTEGER, and DER wants it minimal: the first octet neither sets the sign bit nor
  // is a zero that could be left out (OpenSSL refuses such a certificate: "illegal padding"; 1 in 256 did).
  const serial = Buffer.from(random);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const tbs = sequence(
    der(0xa0, integer(Buffer.from([2]))), // [0] EXPLICIT version v3
    integer(serial),
    SHA256_WITH_RSA,
    subject,
    sequence(time(new Date(now.getTime() - 60_000)), time(notAfter)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = pem('CERTIFICATE', sequence(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature]))));
  // What we made must parse and verify as what it claims to be.
  if (!new X509Certificate(certificate).verify(publicKey)) throw new Error('SP certificate does not verify');
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certificate };
}
