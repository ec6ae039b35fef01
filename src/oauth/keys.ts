/**
 * Per-tenant signing keys. A tenant's first ES256 key is made on first use; private keys are sealed with the
 * master key (AES-256-GCM, tenant and kid as associated data). Keys are cached per tenant: signing needs no query.
 * JWK thumbprints (RFC 7638) are the key ids.
 */
import { publish } from '../events/in-transaction.ts';
import { BoundedMap } from '../platform/bounded-map.ts';
import './events.ts';
import { and, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import type { Keyring } from '../platform/crypto.ts';
import { CACHE_TTL_MS, type Invalidation } from '../platform/invalidation.ts';
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
  /** Tenants' keys, least recently used forgotten first (docs/scale-out.md). */
  readonly #cache = new BoundedMap<string, Promise<TenantKeys>>(100_000);
  readonly #scopeFor: ScopeFor;
  readonly #keyring: Keyring;
  readonly #ttlMs: number;
  readonly #invalidation: Invalidation | undefined;

  constructor(opts: { scopeFor: ScopeFor; keyring: Keyring; ttlMs?: number; invalidation?: Invalidation }) {
    this.#scopeFor = opts.scopeFor;
    this.#keyring = opts.keyring;
    this.#ttlMs = opts.ttlMs ?? CACHE_TTL_MS;
    this.#invalidation = opts.invalidation;
    opts.invalidation?.on('keys', (tenantId) => this.forget(tenantId === '*' ? undefined : tenantId));
  }

  async signingKey(tenantId: TenantId, alg: SigningAlg = 'ES256'): Promise<SigningKey> {
    const keys = await this.#keys(tenantId);
    const key = keys.signing.get(alg);
    if (key) return key;
    // First use: an active key, and the next one already published so the first rotation breaks no one.
    const scope = this.#scopeFor(tenantId);
    await this.#insertKey(scope, tenantId, alg, 'active');
    await this.#insertKey(scope, tenantId, alg, 'next');
    this.#cache.delete(tenantId);
    return (await this.#keys(tenantId)).signing.get(alg)!;
  }

  /**
   * Rotation without breaking anyone: the `next` key (published in the JWKS since the last rotation, so caching
   * resource servers have it) starts signing; the active key keeps verifying until every token it signed has expired
   * (`retireAfter`); a new `next` key is published.
   */
  async rotate(
    scope: TenantScope,
    alg: SigningAlg,
    maxTokenLifetimeSeconds: number,
    /** Runs in the rotation's transaction (the audit record). */
    within?: (tx: TenantScope, result: { active: string; next: string; retired: string | null }) => Promise<void>,
  ): Promise<{ active: string; next: string; retired: string | null }> {
    const tenantId = scope.tenantId;
    await this.signingKey(tenantId, alg);
    const now = new Date();
    const result = await scope.transaction(async (tx) => {
      const rows = await tx.select(signingKeys, eq(signingKeys.alg, alg), inArray(signingKeys.status, ['active', 'next'])).for('update');
      const active = rows.find((r) => r.status === 'active');
      const next = rows.find((r) => r.status === 'next') ?? (await this.#insertKey(tx, tenantId, alg, 'next'));
      if (active) {
        await tx.update(signingKeys, { status: 'retired', retireAfter: new Date(now.getTime() + (maxTokenLifetimeSeconds + 300) * 1000) }, eq(signingKeys.kid, active.kid));
      }
      await tx.update(signingKeys, { status: 'active', activatedAt: now }, eq(signingKeys.kid, next.kid));
      const newNext = await this.#insertKey(tx, tenantId, alg, 'next');
      await this.#invalidation?.publish(tx, 'keys');
      const rotated = { active: next.kid, next: newNext.kid, retired: active?.kid ?? null };
      await publish(tx, { type: 'key.rotated', data: { alg, ...rotated } });
      await within?.(tx, rotated);
      return rotated;
    });
    this.#cache.delete(tenantId);
    return result;
  }

  /**
   * Revokes a key believed compromised: it leaves the JWKS and stops verifying on every instance when this commits
   * (the `keys` invalidation), so every token it signed fails at once. If it was signing, the published `next` key
   * takes over (resource servers already have it) and a new `next` is published.
   */
  async revoke(
    scope: TenantScope,
    kid: string,
    within?: (tx: TenantScope, result: { revoked: string; active: string | null }) => Promise<void>,
  ): Promise<{ revoked: string; active: string | null } | undefined> {
    const tenantId = scope.tenantId;
    const result = await scope.transaction(async (tx) => {
      const [row] = await tx.select(signingKeys, eq(signingKeys.kid, kid), inArray(signingKeys.status, ['next', 'active', 'retired'])).for('update');
      if (!row) return undefined;
      await tx.update(signingKeys, { status: 'revoked', retireAfter: new Date() }, eq(signingKeys.kid, kid));
      let active: string | null = null;
      if (row.status === 'active' || row.status === 'next') {
        const [next] = await tx.select(signingKeys, eq(signingKeys.alg, row.alg), eq(signingKeys.status, 'next')).for('update');
        if (row.status === 'active') {
          const successor = next ?? (await this.#insertKey(tx, tenantId, row.alg, 'next'));
          await tx.update(signingKeys, { status: 'active', activatedAt: new Date() }, eq(signingKeys.kid, successor.kid));
          active = successor.kid;
        }
        await this.#insertKey(tx, tenantId, row.alg, 'next');
      }
      await this.#invalidation?.publish(tx, 'keys');
      const revoked = { revoked: kid, active };
      await publish(tx, { type: 'key.revoked', data: revoked });
      await within?.(tx, revoked);
      return revoked;
    });
    this.#cache.delete(tenantId);
    return result;
  }

  async list(scope: TenantScope) {
    const rows = await scope.select(signingKeys);
    return rows.map((r) => ({ kid: r.kid, alg: r.alg, status: r.status, createdAt: r.createdAt, activatedAt: r.activatedAt, retireAfter: r.retireAfter }));
  }

  /** A public key by kid. An unknown kid reloads once: another instance may have rotated. */
  async verificationKey(tenantId: TenantId, kid: string): Promise<{ alg: SigningAlg; key: CryptoKey } | undefined> {
    let keys = await this.#keys(tenantId);
    if (!keys.publicKeys.has(kid) && Date.now() - keys.loadedAt > 1_000) {
      this.#cache.delete(tenantId);
      keys = await this.#keys(tenantId);
    }
    return keys.publicKeys.get(kid);
  }

  async jwks(tenantId: TenantId): Promise<{ keys: JWK[] }> {
    const keys = await this.#keys(tenantId);
    if (keys.signing.size === 0) return this.signingKey(tenantId).then(() => this.jwks(tenantId));
    return { keys: [...keys.publicKeys.values()].map((k) => k.jwk) };
  }

  forget(tenantId?: string): void {
    if (tenantId) this.#cache.delete(tenantId);
    else this.#cache.clear();
  }

  #keys(tenantId: TenantId): Promise<TenantKeys> {
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

  async #load(tenantId: TenantId): Promise<TenantKeys> {
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

  async #insertKey(scope: TenantScope, tenantId: string, alg: SigningAlg, status: 'active' | 'next'): Promise<{ kid: string }> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const sealed = this.#keyring.seal(JSON.stringify(await exportJWK(privateKey)), `${tenantId}/${kid}`);
    // Two instances may race to create a tenant's first keys; the partial unique indexes let exactly one win.
    await scope
      .insert(signingKeys, { kid, alg, status, publicJwk: publicJwk as Record<string, unknown>, privateJwkSealed: sealed, activatedAt: status === 'active' ? new Date() : null })
      .onConflictDoNothing();
    return { kid };
  }
}
