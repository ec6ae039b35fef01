/** Signing keys. Private keys are stored encrypted (AES-256-GCM under the master key). */
import { jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { tenantId, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

export const KEY_STATUSES = ['next', 'active', 'retired'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];
export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export const signingKeys = pgTable(
  'signing_keys',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    kid: text('kid').notNull(),
    alg: text('alg', { enum: SIGNING_ALGS }).notNull(),
    status: text('status', { enum: KEY_STATUSES }).notNull(),
    publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
    /** Sealed private JWK: base64url(iv || ciphertext || tag). */
    privateJwkSealed: text('private_jwk_sealed').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    activatedAt: timestamptz('activated_at'),
    /** After this instant no unexpired token can carry this key's signature; it leaves the JWKS. */
    retireAfter: timestamptz('retire_after'),
  },
  (t) => [
    primaryKey({ name: 'signing_keys_pkey', columns: [t.tenantId, t.kid] }),
    // One active key per tenant and algorithm: two instances creating the first key race on this index.
    uniqueIndex('signing_keys_one_active_idx').on(t.tenantId, t.alg).where(sql`status = 'active'`),
  ],
);
