/**
 * SSO connections of organizations: the rules. Every write is one transaction with its audit entry.
 *
 * - A connection belongs to one organization of the tenant and is deleted with it (ON DELETE CASCADE).
 * - Only `active` connections route sign-ins; activating checks that the connection is complete (an OIDC issuer,
 *   client id and secret; a SAML entity ID, SSO URL and at least one certificate).
 * - The OIDC client secret is write-only: sealed with the context `<tenant>/connection/<id>`, so a sealed value
 *   copied to another row or tenant does not open.
 * - `organization_id` routing takes the organization's first active connection in (created_at, id) order.
 */
import type { TenantScope } from '../platform/db.ts';
import type { Keyring } from '../platform/crypto.ts';
import { Conflict, Invalid, NotFound } from '../platform/errors/domain.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { getOrganization, isUuid } from '../organizations/service.ts';
import { organizationForVerifiedDomain } from '../organizations/domains.ts';
import type { ConnectionStatus, ConnectionType, JitPolicy } from '../db/schema/index.ts';
import { connectionsRepository, type ConnectionRow } from './repository.ts';
import { previousAttributes, publish } from '../events/in-transaction.ts';
import { connectionData } from './events.ts';
import { oidcSettings, samlSettings, type ConnectionCreateBody, type ConnectionPatchBody, type OidcSettings, type SamlMetadataSource, type SamlSettings } from './schemas.ts';
import { describeCertificate, MAX_METADATA_BYTES, parseIdpMetadata, type CertificateInfo, type IdpMetadata } from './saml-metadata.ts';
import { OutboundError, type Outbound } from '../platform/outbound.ts';
import { newSpCredential } from './sp-credentials.ts';
import { providersOfOrganization } from '../upstream/service.ts';

export const MAX_CONNECTIONS_PER_ORGANIZATION = 20;

export interface Connection {
  id: string;
  organizationId: string;
  type: ConnectionType;
  displayName: string;
  status: ConnectionStatus;
  settings: Record<string, unknown>;
  hasClientSecret: boolean;
  jitPolicy: JitPolicy;
  defaultOrganizationRoles: string[];
  serviceProvider: Record<string, string>;
  /** SAML: the IdP signing certificates' subject, SHA-256 fingerprint and expiry (OIDC: none). */
  certificates: CertificateInfo[];
  createdAt: Date;
  updatedAt: Date;
}

/** A connection as sign-in uses it, with its settings parsed. */
export type RoutableConnection =
  | { id: string; organizationId: string; type: 'oidc'; displayName: string; jitPolicy: JitPolicy; defaultOrganizationRoles: string[]; settings: OidcSettings }
  | { id: string; organizationId: string; type: 'saml'; displayName: string; jitPolicy: JitPolicy; defaultOrganizationRoles: string[]; settings: SamlSettings; spSigningCert: string | null; spNextSigningCert: string | null };

export const sealContext = (tenantId: string, id: string) => `${tenantId}/connection/${id}`;

/** Where the IdP sends people back, and what a SAML IdP must be told about us (stable per connection). */
export function serviceProviderOf(issuer: string, type: ConnectionType, id: string): Record<string, string> {
  const base = issuer.replace(/\/$/, '');
  return type === 'oidc'
    ? { redirectUri: `${base}/sso/oidc/${id}/callback`, initiateLoginUri: `${base}/sso/oidc/${id}/initiate` }
    : { entityId: `${base}/sso/saml/${id}/metadata`, acsUrl: `${base}/sso/saml/${id}/acs`, metadataUrl: `${base}/sso/saml/${id}/metadata` };
}

function toConnection(r: ConnectionRow, issuer: string): Connection {
  return {
    id: r.id,
    organizationId: r.organizationId,
    type: r.type,
    displayName: r.displayName,
    status: r.status,
    settings: r.settings,
    hasClientSecret: r.secretSealed !== null,
    jitPolicy: r.jitPolicy,
    defaultOrganizationRoles: r.defaultOrganizationRoles,
    serviceProvider: {
      ...serviceProviderOf(issuer, r.type, r.id),
      ...(r.spSigningCert ? { signingCertificate: r.spSigningCert } : {}),
      ...(r.spNextSigningCert ? { nextSigningCertificate: r.spNextSigningCert } : {}),
    },
    certificates: r.type === 'saml' ? certificatesOf(r.settings) : [],
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function auditView(c: Connection): Record<string, unknown> {
  const { createdAt, updatedAt, serviceProvider, certificates, ...rest } = c;
  return rest;
}

function settingsFor(type: ConnectionType, value: unknown): Record<string, unknown> {
  const parsed = (type === 'oidc' ? oidcSettings : samlSettings).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Invalid(`settings${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message}`, { field: 'settings' });
  }
  return parsed.data as Record<string, unknown>;
}

async function loadOrThrow(scope: TenantScope, id: string, lock = false): Promise<ConnectionRow> {
  const repo = connectionsRepository(scope);
  const row = lock ? await repo.lock(id) : await repo.find(id);
  if (!row) throw new NotFound('No connection with this id in this tenant.');
  return row;
}

/**
 * `opts.id`: an id chosen in advance (the Admin Portal shows the IdP our URLs, which contain it, before the
 * connection exists); a random one otherwise.
 */
/**
 * The IdP's metadata, read from its URL through the bounded fetcher or from the XML given (saml-metadata.ts), as
 * settings fields; `idpMetadataUrl` is kept for the daily refresh.
 */
export async function readSamlMetadata(outbound: Outbound | undefined, source: SamlMetadataSource): Promise<IdpMetadata & { idpMetadataUrl?: string }> {
  if ('xml' in source) return parseIdpMetadata(source.xml, source.entityId);
  if (!outbound) throw new Invalid('Metadata by URL is not available here; send the XML.', { field: 'metadata.url' });
  let xml: string;
  try {
    const res = await outbound.fetch(source.url, { headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' }, maxBytes: MAX_METADATA_BYTES });
    if (!res.ok) throw new OutboundError('status', `answered ${res.status}`);
    xml = await res.text();
  } catch (error) {
    if (error instanceof OutboundError) throw new Invalid(`The metadata URL could not be read (${error.reason}): ${error.message}`, { field: 'metadata.url' });
    throw error;
  }
  return { ...parseIdpMetadata(xml, source.entityId), idpMetadataUrl: source.url };
}

/** Subject, SHA-256 fingerprint and expiry of each signing certificate (unreadable ones are left out). */
export function certificatesOf(settings: Record<string, unknown>): CertificateInfo[] {
  const pems = Array.isArray(settings.idpCertificates) ? (settings.idpCertificates as unknown[]) : [];
  return pems.flatMap((pem) => {
    try {
      return typeof pem === 'string' ? [describeCertificate(pem)] : [];
    } catch {
      return [];
    }
  });
}

export async function createConnection(scope: TenantScope, actor: Actor, keyring: Keyring, issuer: string, organizationId: string, body: ConnectionCreateBody, opts: { id?: string; outbound?: Outbound } = {}): Promise<Connection> {
  // Fetched before the transaction: no connection is held open across a network call.
  const metadata = body.type === 'saml' && body.metadata ? await readSamlMetadata(opts.outbound, body.metadata) : undefined;
  return scope.transaction(async (tx) => {
    await getOrganization(tx, organizationId);
    const repo = connectionsRepository(tx);
    if ((await repo.countOfOrganization(organizationId)) >= MAX_CONNECTIONS_PER_ORGANIZATION) {
      throw new Invalid(`An organization has at most ${MAX_CONNECTIONS_PER_ORGANIZATION} connections.`, { field: 'organizationId' });
    }
    if (opts.id !== undefined && (await repo.find(opts.id))) throw new Conflict('A connection with this id exists already.', { field: 'id' });
    const row = await repo.insert({
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      organizationId,
      type: body.type,
      displayName: body.displayName,
      settings: settingsFor(body.type, metadata ? { ...body.settings, ...metadata } : body.settings),
      jitPolicy: body.jitPolicy ?? 'verified_domains',
      defaultOrganizationRoles: body.defaultOrganizationRoles ?? [],
      createdAt: new Date(),
    });
    let sealed = row;
    if (body.type === 'oidc' && body.clientSecret) sealed = (await repo.update(row.id, { secretSealed: keyring.seal(body.clientSecret, sealContext(tx.tenantId, row.id)) }))!;
    sealed = await withSpCredential(tx, keyring, issuer, sealed);
    const c = toConnection(sealed, issuer);
    await recordAudit(tx, actor, { action: 'connection.create', targetType: 'connection', targetId: c.id, after: auditView(c) });
    await publish(tx, { type: 'connection.created', organizationId, data: connectionData(c) });
    return c;
  });
}

export async function getConnection(scope: TenantScope, issuer: string, id: string): Promise<Connection> {
  return toConnection(await loadOrThrow(scope, id), issuer);
}

export async function listConnections(scope: TenantScope, issuer: string, organizationId: string): Promise<Connection[]> {
  await getOrganization(scope, organizationId);
  const rows = await connectionsRepository(scope).listOfOrganization(organizationId, { limit: MAX_CONNECTIONS_PER_ORGANIZATION });
  return rows.map((r) => toConnection(r, issuer));
}

export async function updateConnection(scope: TenantScope, actor: Actor, keyring: Keyring, issuer: string, id: string, patch: ConnectionPatchBody): Promise<Connection> {
  return scope.transaction(async (tx) => {
    const current = await loadOrThrow(tx, id, true);
    if (patch.clientSecret !== undefined && current.type !== 'oidc') throw new Invalid('Only OIDC connections have a client secret.', { field: 'clientSecret' });
    let row = (await connectionsRepository(tx).update(id, {
      ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
      ...(patch.jitPolicy !== undefined ? { jitPolicy: patch.jitPolicy } : {}),
      ...(patch.defaultOrganizationRoles !== undefined ? { defaultOrganizationRoles: patch.defaultOrganizationRoles } : {}),
      ...(patch.settings !== undefined ? { settings: settingsFor(current.type, patch.settings) } : {}),
      ...(patch.clientSecret !== undefined ? { secretSealed: keyring.seal(patch.clientSecret, sealContext(tx.tenantId, id)) } : {}),
    }))!;
    row = await withSpCredential(tx, keyring, issuer, row);
    const before = toConnection(current, issuer);
    const after = toConnection(row, issuer);
    await recordAudit(tx, actor, { action: 'connection.update', targetType: 'connection', targetId: id, before: auditView(before), after: auditView(after) });
    const changed = previousAttributes(connectionData(before), connectionData(after));
    if (changed) await publish(tx, { type: 'connection.updated', organizationId: row.organizationId, data: connectionData(after), previousAttributes: changed });
    return after;
  });
}

/**
 * Sets a SAML connection's IdP from its metadata (`POST /api/connections/{id}/saml-metadata`, and the daily refresh of
 * `idpMetadataUrl`): entity ID, SSO URL and certificates are replaced, everything else is kept. Audited as
 * `connection.metadata.import` with the certificates' fingerprints before and after; no change, no entry.
 */
export async function importSamlMetadata(scope: TenantScope, actor: Actor, outbound: Outbound | undefined, issuer: string, id: string, source: SamlMetadataSource): Promise<{ connection: Connection; changed: boolean; certificates: CertificateInfo[] }> {
  const first = await loadOrThrow(scope, id);
  if (first.type !== 'saml') throw new Invalid('Only SAML connections read SAML metadata.', { field: 'type' });
  const metadata = await readSamlMetadata(outbound, source);
  return scope.transaction(async (tx) => {
    const current = await loadOrThrow(tx, id, true);
    const settings = settingsFor('saml', { ...current.settings, ...metadata });
    const changed = JSON.stringify(settings) !== JSON.stringify(settingsFor('saml', current.settings));
    if (!changed) return { connection: toConnection(current, issuer), changed, certificates: certificatesOf(settings) };
    const row = (await connectionsRepository(tx).update(id, { settings }))!;
    const before = toConnection(current, issuer);
    const after = toConnection(row, issuer);
    const view = (c: Connection) => ({ ...(c.settings as object), idpCertificates: certificatesOf(c.settings).map((x) => x.fingerprint) });
    await recordAudit(tx, actor, { action: 'connection.metadata.import', targetType: 'connection', targetId: id, before: { settings: view(before) }, after: { settings: view(after), source: 'url' in source ? source.url : 'xml' } });
    const previous = previousAttributes(connectionData(before), connectionData(after));
    if (previous) await publish(tx, { type: 'connection.updated', organizationId: row.organizationId, data: connectionData(after), previousAttributes: previous });
    return { connection: after, changed, certificates: certificatesOf(settings) };
  });
}

function incompleteness(row: ConnectionRow): string | undefined {
  if (row.type === 'oidc') return row.secretSealed ? undefined : 'An OIDC connection needs its client secret before it can be activated.';
  return undefined; // SAML settings are complete once they validate (entity ID, SSO URL, a certificate).
}

export async function setConnectionStatus(scope: TenantScope, actor: Actor, issuer: string, id: string, status: 'active' | 'inactive'): Promise<Connection> {
  return scope.transaction(async (tx) => {
    const current = await loadOrThrow(tx, id, true);
    if (status === 'active') {
      const missing = incompleteness(current);
      if (missing) throw new Invalid(missing, { field: 'status' });
    }
    const row = current.status === status ? current : (await connectionsRepository(tx).update(id, { status }))!;
    if (current.status !== status) {
      await recordAudit(tx, actor, { action: status === 'active' ? 'connection.activate' : 'connection.deactivate', targetType: 'connection', targetId: id, before: { status: current.status }, after: { status } });
      const after = connectionData(toConnection(row, issuer));
      await publish(tx, { type: status === 'active' ? 'connection.activated' : 'connection.deactivated', organizationId: row.organizationId, data: after, previousAttributes: previousAttributes(connectionData(toConnection(current, issuer)), after) });
    }
    return toConnection(row, issuer);
  });
}

export async function deleteConnection(scope: TenantScope, actor: Actor, issuer: string, id: string): Promise<void> {
  await scope.transaction(async (tx) => {
    const current = await loadOrThrow(tx, id, true);
    await connectionsRepository(tx).delete(id);
    await recordAudit(tx, actor, { action: 'connection.delete', targetType: 'connection', targetId: id, before: auditView(toConnection(current, issuer)) });
    await publish(tx, { type: 'connection.deleted', organizationId: current.organizationId, data: connectionData(toConnection(current, issuer)) });
  });
}

function routable(row: ConnectionRow, anyStatus = false): RoutableConnection | undefined {
  if (row.status !== 'active' && !anyStatus) return undefined;
  const common = { id: row.id, organizationId: row.organizationId, displayName: row.displayName, jitPolicy: row.jitPolicy, defaultOrganizationRoles: row.defaultOrganizationRoles };
  if (row.type === 'oidc') {
    const s = oidcSettings.safeParse(row.settings);
    return s.success ? { ...common, type: 'oidc', settings: s.data } : undefined;
  }
  const s = samlSettings.safeParse(row.settings);
  if (!s.success) return undefined;
  // Signing is on but the credential is missing (cannot happen through the service): the connection is incomplete.
  if ((s.data.signAuthnRequest || s.data.wantAssertionsEncrypted) && !row.spSigningCert) return undefined;
  return { ...common, type: 'saml', settings: s.data, spSigningCert: row.spSigningCert, spNextSigningCert: row.spNextSigningCert };
}

/** An active connection by id, for sign-in; anything else (unknown, draft, inactive, not a uuid) is undefined. */
export async function findActiveConnection(scope: TenantScope, id: string): Promise<RoutableConnection | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await connectionsRepository(scope).find(id);
  return row ? routable(row) : undefined;
}

/**
 * A connection whatever its status, with valid settings: what a *test* sign-in uses (it signs nobody in, so a draft
 * can be tried before it is activated). Undefined when unknown or incomplete.
 */
export async function findTestableConnection(scope: TenantScope, id: string): Promise<RoutableConnection | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await connectionsRepository(scope).find(id);
  return row ? routable(row, true) : undefined;
}

/** The organization's first active connection in (created_at, id) order: what `organization_id` routes to. */
export async function firstActiveConnection(scope: TenantScope, organizationId: string): Promise<RoutableConnection | undefined> {
  if (!isUuid(organizationId)) return undefined;
  for (const row of await connectionsRepository(scope).listOfOrganization(organizationId, { activeOnly: true, limit: MAX_CONNECTIONS_PER_ORGANIZATION })) {
    const r = routable(row);
    if (r) return r;
  }
  return undefined;
}

/**
 * A SAML connection that signs its AuthnRequests or wants its assertions encrypted gets its own key and certificate
 * the first time (sp-credentials.ts; one key for both, as Shibboleth SPs have by default), and keeps them: turning
 * either off and on again, or editing the connection, never changes what the IdP was given.
 */
async function withSpCredential(tx: TenantScope, keyring: Keyring, issuer: string, row: ConnectionRow): Promise<ConnectionRow> {
  const wants = row.settings as { signAuthnRequest?: unknown; wantAssertionsEncrypted?: unknown };
  if (row.type !== 'saml' || row.spSigningCert || (wants.signAuthnRequest !== true && wants.wantAssertionsEncrypted !== true)) return row;
  const credential = await connectionCredential(issuer);
  return (await connectionsRepository(tx).update(row.id, { spSigningKeySealed: keyring.seal(credential.privateKey, spKeyContext(tx.tenantId, row.id)), spSigningCert: credential.certificate }))!;
}

const spKeyContext = (tenantId: string, id: string) => `${sealContext(tenantId, id)}/sp-signing`;
/** A connection's own key and certificate, named after the tenant's host (the first one, and each rollover's). */
const connectionCredential = (issuer: string) => newSpCredential(`${new URL(issuer).hostname} SAML SP`);

/**
 * The private keys a SAML connection signs its AuthnRequests and decrypts its assertions with: the current one, and
 * during a rollover the next one (which decrypts too; see rolloverSpCertificate).
 */
export async function connectionSpSigningKeys(scope: TenantScope, keyring: Keyring, id: string): Promise<{ current?: string; next?: string }> {
  const row = await connectionsRepository(scope).find(id);
  const context = spKeyContext(scope.tenantId, id);
  return {
    ...(row?.spSigningKeySealed ? { current: keyring.unseal(row.spSigningKeySealed, context) } : {}),
    ...(row?.spNextSigningKeySealed ? { next: keyring.unseal(row.spNextSigningKeySealed, context) } : {}),
  };
}

const fingerprintOf = (pem: string | null) => (pem ? describeCertificate(pem).fingerprint : null);

/**
 * Rolling over a SAML connection's own certificate (the one of signAuthnRequest and wantAssertionsEncrypted), in the
 * usual three steps (as Shibboleth documents it):
 * 1. `rollover`: a next key and certificate. The SP metadata lists both as signing keys (requests are still signed
 *    with the current one) and the next one as the encryption key; assertions encrypted to either are decrypted.
 * 2. The IdP takes the new certificate (re-reads our metadata, or is given it).
 * 3. `promote`: the next one becomes current and the old key is gone; or `cancel` drops the next one.
 * Each step is audited with the certificates' fingerprints and written to the feed as `connection.updated`.
 */
export async function rolloverSpCertificate(scope: TenantScope, actor: Actor, keyring: Keyring, issuer: string, id: string, step: 'rollover' | 'promote' | 'cancel'): Promise<Connection> {
  const made = step === 'rollover' ? await connectionCredential(issuer) : undefined;
  return scope.transaction(async (tx) => {
    const current = await loadOrThrow(tx, id, true);
    if (current.type !== 'saml') throw new Invalid('Only SAML connections have a service-provider certificate.', { field: 'type' });
    if (!current.spSigningCert) throw new Invalid('This connection has no certificate of its own yet: it is made when signAuthnRequest or wantAssertionsEncrypted is first turned on.', { field: 'signAuthnRequest' });
    if (step === 'rollover' && current.spNextSigningCert) throw new Conflict('A rollover is already in progress: promote or cancel it first.', { reason: 'rollover-in-progress' });
    if (step !== 'rollover' && !current.spNextSigningCert) throw new Conflict('No rollover is in progress.', { reason: 'no-rollover' });
    const changes =
      step === 'rollover'
        ? { spNextSigningKeySealed: keyring.seal(made!.privateKey, spKeyContext(tx.tenantId, id)), spNextSigningCert: made!.certificate }
        : step === 'promote'
          ? { spSigningKeySealed: current.spNextSigningKeySealed, spSigningCert: current.spNextSigningCert, spNextSigningKeySealed: null, spNextSigningCert: null }
          : { spNextSigningKeySealed: null, spNextSigningCert: null };
    const row = (await connectionsRepository(tx).update(id, changes))!;
    const view = (r: ConnectionRow) => ({ signingCertificate: fingerprintOf(r.spSigningCert), nextSigningCertificate: fingerprintOf(r.spNextSigningCert) });
    await recordAudit(tx, actor, { action: `connection.sp_certificate.${step}`, targetType: 'connection', targetId: id, before: view(current), after: view(row) });
    const before = connectionData(toConnection(current, issuer));
    const after = connectionData(toConnection(row, issuer));
    await publish(tx, { type: 'connection.updated', organizationId: row.organizationId, data: after, previousAttributes: previousAttributes(before, after) });
    return toConnection(row, issuer);
  });
}

/** The OIDC client secret, for the token request at the IdP. */
export async function connectionClientSecret(scope: TenantScope, keyring: Keyring, id: string): Promise<string | undefined> {
  const row = await connectionsRepository(scope).find(id);
  return row?.secretSealed ? keyring.unseal(row.secretSealed, sealContext(scope.tenantId, id)) : undefined;
}

/**
 * Scalekit's "pre-check SSO availability": is the domain (or an email's domain) verified for an organization that
 * has an active connection? Pending or failed domains never count.
 */
export async function ssoForDomain(scope: TenantScope, domainOrEmail: string) {
  const owner = await organizationForVerifiedDomain(scope, domainOrEmail);
  const domain = owner?.domain ?? domainOrEmail.slice(domainOrEmail.lastIndexOf('@') + 1).trim().toLowerCase();
  if (!owner) return { domain, sso: false, organizationId: null, connections: [], upstreamProviders: [] };
  const rows = (await connectionsRepository(scope).activeOf([owner.organizationId])).map((r) => routable(r)).filter((c) => c !== undefined);
  // An upstream provider bound to the organization is its sign-in method too (after its connections, as routing has it).
  const bound = await providersOfOrganization(scope, owner.organizationId);
  return {
    domain,
    sso: rows.length > 0 || bound.length > 0,
    organizationId: owner.organizationId,
    connections: rows.map((c) => ({ id: c.id, type: c.type, displayName: c.displayName })),
    upstreamProviders: bound.map((p) => ({ type: p.type, id: p.id, displayName: p.displayName })),
  };
}

/** At most this many SAML connections are looked at by `connectionsWithExpiringCertificates`. */
export const MAX_EXPIRY_SCAN = 2000;

/**
 * SAML connections with an IdP signing certificate that expires within `withinDays` (or has expired), as
 * `GET /api/upstream?expiringWithinDays=` lists upstream secrets: what the daily upkeep job warns about, as data.
 */
export async function connectionsWithExpiringCertificates(scope: TenantScope, issuer: string, withinDays: number, now = new Date()): Promise<Connection[]> {
  const by = now.getTime() + withinDays * 86_400_000;
  return (await connectionsRepository(scope).listSaml(MAX_EXPIRY_SCAN)).map((r) => toConnection(r, issuer)).filter((c) => c.certificates.some((x) => Date.parse(x.notAfter) <= by));
}

/** Replay cache for SAML assertions: false when this assertion ID was already accepted at this connection. */
export async function rememberSamlAssertion(scope: TenantScope, connectionId: string, assertionId: string, notOnOrAfter: Date): Promise<boolean> {
  return connectionsRepository(scope).rememberSamlAssertion(connectionId, assertionId.slice(0, 256), notOnOrAfter);
}
