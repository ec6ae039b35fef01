/** Signing keys. Private keys are stored encrypted (AES-256-GCM under the master key). */
import { index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, tenantId, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';


/** `revoked`: pulled from the JWKS at once (compromise); tokens it signed fail everywhere. */
export const KEY_STATUSES = ['next', 'active', 'retired', 'revoked'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];
/** JWS algorithms a client's tokens may be signed with (RFC 7518 §3.1; `EdDSA` with Ed25519, RFC 8037 §3.1). */
export const SIGNING_ALGS = ['ES256', 'RS256', 'EdDSA'] as const;
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
    // And one published-but-not-yet-signing key, the next to become active.
    uniqueIndex('signing_keys_one_next_idx').on(t.tenantId, t.alg).where(sql`status = 'next'`),
  ],
);

/** Authorization codes (RFC 6749 §4.1.2): stored hashed, single use, bound to client, redirect URI and PKCE. */
export const authorizationCodes = pgTable(
  'authorization_codes',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    codeHash: bytea('code_hash').notNull(),
    clientId: text('client_id').notNull(),
    userId: uuid('user_id').notNull(),
    sessionId: text('session_id'),
    redirectUri: text('redirect_uri').notNull(),
    scopes: text('scopes').array().notNull(),
    codeChallenge: text('code_challenge'),
    codeChallengeMethod: text('code_challenge_method'),
    nonce: text('nonce'),
    /** The organization the sign-in ran in (`organization_id` at /authorize): tokens carry `org_id` (ADR 0009). */
    organizationId: uuid('organization_id'),
    authTime: timestamptz('auth_time').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    /** Set on first redemption; a second redemption revokes what the first issued (RFC 6749 §4.1.2). */
    consumedAt: timestamptz('consumed_at'),
    /** The refresh token family and access token jti issued on redemption, to revoke on replay. */
    issuedFamilyId: uuid('issued_family_id'),
    issuedJti: text('issued_jti'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'authorization_codes_pkey', columns: [t.tenantId, t.codeHash] })],
);

/** Refresh tokens: hashed, rotated on use; reuse of a rotated token revokes its whole family (RFC 9700 §4.14.2). */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    tokenHash: bytea('token_hash').notNull(),
    familyId: uuid('family_id').notNull(),
    clientId: text('client_id').notNull(),
    userId: uuid('user_id').notNull(),
    sessionId: text('session_id'),
    scopes: text('scopes').array().notNull(),
    /** The organization of the grant; every refresh re-reads the membership (ADR 0009). */
    organizationId: uuid('organization_id'),
    authTime: timestamptz('auth_time').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    rotatedAt: timestamptz('rotated_at'),
    revokedAt: timestamptz('revoked_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'refresh_tokens_pkey', columns: [t.tenantId, t.tokenHash] }),
    index('refresh_tokens_tenant_id_family_id_idx').on(t.tenantId, t.familyId),
    index('refresh_tokens_tenant_id_user_id_idx').on(t.tenantId, t.userId),
  ],
);

/** Revoked access tokens by jti until they expire (RFC 7009 §2; RFC 7662 §2.2 answers active:false for them). */
export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    jti: text('jti').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    revokedAt: timestamptz('revoked_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'revoked_tokens_pkey', columns: [t.tenantId, t.jti] })],
);

/** Browser sessions at this service (server-side; the cookie holds a random id whose hash is the key). */
export const sessions = pgTable(
  'sessions',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    idHash: bytea('id_hash').notNull(),
    userId: uuid('user_id').notNull(),
    /** How the user authenticated: `pwd`, or `upstream:<type>:<id>`. */
    method: text('method').notNull(),
    authTime: timestamptz('auth_time').notNull(),
    lastSeenAt: timestamptz('last_seen_at').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    endedAt: timestamptz('ended_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    /** Where the sign-in came from, for the user's own list on /account (capped; never used for decisions). */
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [primaryKey({ name: 'sessions_pkey', columns: [t.tenantId, t.idHash] }), index('sessions_tenant_id_user_id_idx').on(t.tenantId, t.userId)],
);

/**
 * Failure counters for rate limits on credential endpoints, shared by all instances. A row per key and fixed
 * window; only failures write, so the success path costs nothing.
 */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    windowStart: timestamptz('window_start').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ name: 'rate_limit_counters_pkey', columns: [t.tenantId, t.key] })],
);

/** Seen `jti`s of client assertions (RFC 7523 §3 item 7: replay protection), kept until they expire. */
export const usedAssertions = pgTable(
  'used_assertions',
  {
    tenantId: tenantId().references(() => tenants.id, { onDelete: 'cascade' }),
    clientId: text('client_id').notNull(),
    jti: text('jti').notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (t) => [primaryKey({ name: 'used_assertions_pkey', columns: [t.tenantId, t.clientId, t.jti] })],
);
