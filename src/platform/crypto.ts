/**
 * Secrets and sealing. Client secrets are 256-bit random values stored as HMAC-SHA-256 under a pepper; signing
 * keys are sealed with AES-256-GCM. Both keys derive from the master key (HKDF, RFC 5869) so that one setting
 * rotates with one operation, and the pepper never touches the database.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Keyring {
  /** HMAC of a client secret, for storage and comparison. */
  hashSecret(secret: string): Buffer;
  seal(plaintext: string, context: string): string;
  unseal(sealed: string, context: string): string;
}

export function keyring(masterKey: Buffer): Keyring {
  if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, 32));
  // A KeyObject, made once: a Buffer key is re-validated by every createHmac call (measurable on the token path).
  const pepper = createSecretKey(derive('iam/client-secret-pepper/v1'));
  const sealKey = derive('iam/seal/v1');
  return {
    hashSecret: (secret) => createHmac('sha256', pepper).update(secret, 'utf8').digest(),
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      // The context (e.g. tenant and kid) is authenticated: a sealed value copied to another row fails to open.
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    },
    unseal(sealed, context) {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}

/** A new secret: 32 random bytes (256 bits), base64url. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time equality for equal-length digests; unequal lengths are simply unequal. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The master key: MASTER_KEY when set; otherwise (embedded mode only) a key generated once into
 * `<dataDir>/master.key` with mode 0600.
 */
export async function loadMasterKey(fromEnv: string | undefined, dataDir: string): Promise<Buffer> {
  if (fromEnv) return Buffer.from(fromEnv, 'base64');
  const file = path.join(path.resolve(dataDir), 'master.key');
  if (existsSync(file)) return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  await mkdir(path.dirname(file), { recursive: true, mode: 0o711 });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}
