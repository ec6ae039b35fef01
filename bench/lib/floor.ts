/**
 * The machine's floor for one token (issue #15 item 5): the CPU of one JWS signature as ours makes it (WebCrypto's
 * `subtle.sign` over an access-token-sized input, src/oauth/tokens.ts), measured in this process on a quiet core
 * before any target starts. With the bare-Fastify route's CPU per request (the `ceiling` row) it is the least a
 * token endpoint can cost here: ours ÷ floor says how much we spend beyond it.
 */
import { webcrypto } from 'node:crypto';

export type FloorAlg = 'ES256' | 'EdDSA';

const PARAMS = { ES256: { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } }, EdDSA: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } } } as const;

/**
 * CPU microseconds (user + system, libuv's pool included: it is this process's) per signature, over `n` signatures
 * made `inFlight` at a time, as a loaded server makes them (one at a time, each await's thread hand-off costs more
 * than the signature).
 */
export async function signatureCpuMicros(alg: FloorAlg, n = 6400, inFlight = 32): Promise<number> {
  const { privateKey } = (await webcrypto.subtle.generateKey(PARAMS[alg].gen as never, false, ['sign', 'verify'])) as CryptoKeyPair;
  const header = Buffer.from(JSON.stringify({ alg, kid: 'k'.repeat(43), typ: 'at+jwt' })).toString('base64url');
  const input = (i: number) =>
    Buffer.from(`${header}.${Buffer.from(JSON.stringify({ iss: 'http://127.0.0.1:3000', sub: 'bench', aud: 'iam', client_id: 'bench', scope: 'iam/', iat: 1_764_000_000 + i, exp: 1_764_003_600 + i, jti: `${i}`.padStart(22, '0'), tid: '0'.repeat(36) })).toString('base64url')}`);
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < count) await webcrypto.subtle.sign(PARAMS[alg].sign as never, privateKey, input(next++));
    }));
  };
  await run(640);
  const start = process.cpuUsage();
  await run(n);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}
