/**
 * The built-in IdP simulator (issue #11 item 8; src/simulator): one per tenant, made when it is first enabled. Its
 * RSA key signs SAML assertions and ID tokens (sealed with the master key); its certificate is what the simulator
 * connections trust; its OIDC client secret is stored as an HMAC like every client secret.
 */
import { pgTable, text } from 'drizzle-orm/pg-core';
import { bytea, tenantId, timestamptz } from './_columns.ts';
import { tenants } from './tenancy.ts';

export const idpSimulators = pgTable('idp_simulators', {
  tenantId: tenantId()
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  signingKeySealed: text('signing_key_sealed').notNull(),
  certificate: text('certificate').notNull(),
  clientSecretHash: bytea('client_secret_hash').notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
});
