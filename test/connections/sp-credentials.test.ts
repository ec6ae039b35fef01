/**
 * A SAML connection's own certificate (src/connections/sp-credentials.ts), written by hand in DER: it must parse
 * whatever random serial it gets. A serial whose first octet was zero made a non-minimal INTEGER that OpenSSL refuses
 * ("illegal padding"), so about one rollover or first signing in 256 failed with a 500.
 */
import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import { newSpCredential } from '../../src/connections/sp-credentials.ts';

it('parses and verifies with serials that start with zero octets, all-ones, or anything between', async () => {
  for (const random of [Buffer.alloc(16), Buffer.from([0x00, 0x10, ...Buffer.alloc(14, 7)]), Buffer.alloc(16, 0xff), Buffer.from([0x80, ...Buffer.alloc(15)])]) {
    const { certificate } = await newSpCredential('sp.example.test SAML SP', new Date('2026-12-01T00:00:00Z'), random);
    const cert = new X509Certificate(certificate);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=sp.example.test SAML SP');
    // Positive, minimal, 16 octets: 0x40–0x7f first.
    expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  }
});
