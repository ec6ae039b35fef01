/**
 * Per-tenant signing keys. A tenant's first ES256 key is made on first use; private keys are sealed with the
 * master key (AES-256-GCM, tenant and kid as associated data). Keys are cached per tenant: signing needs no query.
 * JWK thumbprints (RFC 7638) are the key ids.
 */
import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { signingKeys, type SigningAlg } from '../db/schema/index.ts';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
}

interface TenantKeys {
  signing: Map<SigningAlg, SigningKey>;
  /** Public keys by kid: what JWKS publishes and what verification accepts. */
  publicKeys: Map<string, { alg: SigningAlg; jwk: JWK; key: CryptoKey }>;
  loadedAt: number;
}

export class KeyStore {
  readonly #cache = new Map<string, Promise<TenantKeys>>();
  readonly #scopeFor: (tenantId: string) => TenantScope;
  readonly #keyring: Keyring;
  readonly #ttlMs: number;

  constructor(opts: { scopeFor: (tenantId: string) => TenantScope; keyring: Keyring; ttlMs?: number }) {
    this.#scopeFor = opts.scopeFor;
    this.#keyring = opts.keyring;
    this.#ttlMs = opts.ttlMs ?? 60_000;
  }

  async signingKey(tenantId: string, alg: SigningAlg = 'ES256'): Promise<SigningKey> {
    const keys = await this.#keys(tenantId);
    const key = keys.signing.get(alg);
    if (key) return key;
    await this.#createActiveKey(tenantId, alg);
    this.#cache.delete(tenantId);
    return (await this.#keys(tenantId)).signing.get(alg)!;
  }

  /** A public key by kid. An unknown kid reloads once: another instance may have rotated. */
  async verificationKey(tenantId: string, kid: string): Promise<{ alg: SigningAlg; key: CryptoKey } | undefined> {
    let keys = await this.#keys(tenantId);
    if (!keys.publicKeys.has(kid) && Date.now() - keys.loadedAt > 1_000) {
      this.#cache.delete(tenantId);
      keys = await this.#keys(tenantId);
    }
    return keys.publicKeys.get(kid);
  }

  async jwks(tenantId: string): Promise<{ keys: JWK[] }> {
    const keys = await this.#keys(tenantId);
    if (keys.signing.size === 0) return this.signingKey(tenantId).then(() => this.jwks(tenantId));
    return { keys: [...keys.publicKeys.values()].map((k) => k.jwk) };
  }

  forget(tenantId?: string): void {
    if (tenantId) this.#cache.delete(tenantId);
    else this.#cache.clear();
  }

  #keys(tenantId: string): Promise<TenantKeys> {
    const cached = this.#cache.get(tenantId);
    if (cached) {
      // Expired entries are replaced on the next call; the promise keeps concurrent callers on one query.
      return cached.then((k) => (Date.now() - k.loadedAt > this.#ttlMs ? (this.#cache.delete(tenantId), this.#keys(tenantId)) : k));
    }
    const loading = this.#load(tenantId);
    this.#cache.set(tenantId, loading);
    loading.catch(() => this.#cache.delete(tenantId));
    return loading;
  }

  async #load(tenantId: string): Promise<TenantKeys> {
    const scope = this.#scopeFor(tenantId);
    const now = new Date();
    const rows = await scope.select(
      signingKeys,
      or(inArray(signingKeys.status, ['next', 'active']), and(eq(signingKeys.status, 'retired'), or(isNull(signingKeys.retireAfter), gt(signingKeys.retireAfter, now)))),
    );
    const signing = new Map<SigningAlg, SigningKey>();
    const publicKeys: TenantKeys['publicKeys'] = new Map();
    for (const row of rows) {
      const jwk = { ...(row.publicJwk as JWK), kid: row.kid, alg: row.alg, use: 'sig' };
      publicKeys.set(row.kid, { alg: row.alg, jwk, key: (await importJWK(jwk, row.alg)) as CryptoKey });
      if (row.status === 'active') {
        const privateJwk = JSON.parse(this.#keyring.unseal(row.privateJwkSealed, `${tenantId}/${row.kid}`)) as JWK;
        signing.set(row.alg, { kid: row.kid, alg: row.alg, privateKey: (await importJWK(privateJwk, row.alg)) as CryptoKey });
      }
    }
    return { signing, publicKeys, loadedAt: Date.now() };
  }

  async #createActiveKey(tenantId: string, alg: SigningAlg): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = this.#keyring.seal(JSON.stringify(await exportJWK(privateKey)), `${tenantId}/${kid}`);
    // Two instances may race to create the first key; the partial unique index lets exactly one win.
    await this.#scopeFor(tenantId)
      .insert(signingKeys, { kid, alg, status: 'active', publicJwk: publicJwk as Record<string, unknown>, privateJwkSealed: sealed, activatedAt: new Date() })
      .onConflictDoNothing();
  }
}
