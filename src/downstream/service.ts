/**
 * Downstream clients: the rules. Type rules follow the Bizzkit seed and OAuth 2.0 client types (RFC 6749 §2.1):
 * MachineClient and InteractiveApplication are confidential, ClientSideApplication is public. Secrets are 256-bit,
 * shown once, stored as HMAC only; several may be live at once for rotation without downtime.
 */
import type { TenantScope } from '../platform/db.ts';
import { generateSecret, type Keyring } from '../platform/crypto.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../platform/errors/domain.ts';
import { previousAttributes, publish } from '../events/in-transaction.ts';
import './events.ts';
import type { Invalidation } from '../platform/invalidation.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import type { ClientType } from '../db/schema/index.ts';
import { clientsRepository, type ClientRow, type SecretRow } from './repository.ts';
import { BUILT_IN_APIS, loadScopeCatalog, ORGANIZATION_SCOPE, PRIVILEGED_SCOPES, TENANT_WIDE_SCOPES, type ScopeCatalog } from './protected-apis.ts';
import { foreignKeyViolation } from '../platform/db-errors.ts';
import { publishInvalidation } from '../platform/invalidation.ts';
import type { AuditActor } from '../audit/service.ts';
import type { ClientBody, ClientResponse } from './schemas.ts';

export interface DownstreamContext {
  scope: TenantScope;
  actor: Actor;
  keyring: Keyring;
  invalidation: Invalidation;
}

export function assertKnownScopes(catalog: ScopeCatalog, scopes: string[]): void {
  const unknown = scopes.filter((s) => !catalog.isKnown(s));
  if (unknown.length) {
    throw new Invalid(`Unknown scope(s): ${unknown.join(', ')}. Copy scope values exactly, e.g. "iam/" with its trailing slash; GET /api/downstream/ProtectedApis lists them.`, { unknownScopes: unknown });
  }
}

/**
 * Only an administrator gives a client a privileged scope, or changes, deletes or adds a secret to a client that
 * has one: a secret of such a client is administrator power (a `downstream:write` user could otherwise mint it).
 */
function assertMayManage(actor: Actor, clientId: string, ...scopeLists: (readonly string[] | undefined)[]): void {
  if (actor.authority.admin) return;
  const privileged = [...new Set(scopeLists.flatMap((l) => l ?? []).filter((s) => PRIVILEGED_SCOPES.includes(s)))];
  if (privileged.length) {
    throw new Forbidden(`Only an administrator may manage client "${clientId}" with scope(s) ${privileged.join(', ')}.`, { privilegedScopes: privileged });
  }
}

export function toClientResponse(row: ClientRow, secretCount: number): ClientResponse {
  return {
    clientId: row.clientId,
    type: row.clientType,
    displayName: row.displayName,
    allowedScopes: row.allowedScopes,
    redirectUris: row.redirectUris,
    postLogoutRedirectUris: row.postLogoutRedirectUris,
    initiateLoginUri: row.initiateLoginUri,
    allowedCorsOrigins: row.allowedCorsOrigins,
    accessTokenLifetime: row.accessTokenLifetime,
    refreshTokenLifetime: row.refreshTokenLifetime,
    tokenSigningAlg: row.tokenSigningAlg,
    jwks: row.jwks,
    organizationId: row.organizationId,
    secretCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function auditView(row: ClientRow) {
  const { tenantId: _t, ...rest } = row;
  return rest as Record<string, unknown>;
}

/**
 * ADR 0009: a client bound to an organization holds no tenant-wide administration scope; `iam/organization` is for
 * such clients only (on any other it would be a tenant token without the confinement that `org_id` brings).
 */
function assertOrganizationScopes(organizationId: string | null, scopes: string[]): void {
  if (organizationId) {
    const wide = scopes.filter((s) => TENANT_WIDE_SCOPES.includes(s));
    if (wide.length) throw new Invalid(`An organization-scoped client cannot hold tenant-wide scope(s) ${wide.join(', ')}; use ${ORGANIZATION_SCOPE}.`, { field: 'allowedScopes', tenantWideScopes: wide });
  } else if (scopes.includes(ORGANIZATION_SCOPE)) {
    throw new Invalid(`${ORGANIZATION_SCOPE} is only for a MachineClient bound to an organization (organizationId).`, { field: 'allowedScopes' });
  }
}

/** PUT semantics (RFC 9110 §9.3.4): create, or replace every field; `clientSecret` adds a live secret. */
export async function putClient(
  ctx: DownstreamContext,
  type: ClientType,
  clientId: string,
  body: ClientBody,
): Promise<{ created: boolean; client: ClientResponse }> {
  assertKnownScopes(await loadScopeCatalog(ctx.scope), body.allowedScopes);
  const fields = {
    clientType: type,
    displayName: body.displayName,
    allowedScopes: [...new Set(body.allowedScopes)],
    redirectUris: 'redirectUris' in body ? [...new Set(body.redirectUris)] : [],
    postLogoutRedirectUris: 'postLogoutRedirectUris' in body ? [...new Set(body.postLogoutRedirectUris)] : [],
    initiateLoginUri: 'initiateLoginUri' in body ? (body.initiateLoginUri ?? null) : null,
    allowedCorsOrigins: 'allowedCorsOrigins' in body ? [...new Set(body.allowedCorsOrigins)] : [],
    accessTokenLifetime: body.accessTokenLifetime ?? null,
    refreshTokenLifetime: 'refreshTokenLifetime' in body ? (body.refreshTokenLifetime ?? null) : null,
    tokenSigningAlg: body.tokenSigningAlg,
    jwks: 'jwks' in body && body.jwks ? (body.jwks as { keys: Record<string, unknown>[] }) : null,
    organizationId: 'organizationId' in body ? (body.organizationId ?? null) : null,
  };
  assertOrganizationScopes(fields.organizationId, fields.allowedScopes);
  const result = await ctx.scope.transaction(async (tx) => {
    const repo = clientsRepository(tx);
    const existing = await repo.lockClient(clientId);
    if (existing && existing.clientType !== type) {
      throw new Conflict(`Client "${clientId}" exists as a ${existing.clientType}; delete it first to change its type.`);
    }
    assertMayManage(ctx.actor, clientId, fields.allowedScopes, existing?.allowedScopes);
    // The organization is part of the client's identity: its tokens and audit trail name it (ADR 0009).
    if (existing && existing.organizationId !== fields.organizationId) {
      throw new Conflict(`Client "${clientId}" is bound to ${existing.organizationId ? `organization ${existing.organizationId}` : 'no organization'}; organizationId cannot change. Delete the client and create it again.`, { field: 'organizationId' });
    }
    let row: ClientRow;
    try {
      row = existing ? await repo.updateClient(clientId, { ...fields, updatedAt: new Date() }) : await repo.insertClient({ clientId, ...fields });
    } catch (e) {
      if (foreignKeyViolation(e) === 'clients_organization_fk') throw new NotFound('No organization with this id in this tenant.', { field: 'organizationId' });
      throw e;
    }
    const secrets = await repo.listSecrets(clientId);
    let secretCount = secrets.length;
    await recordAudit(tx, ctx.actor, {
      action: existing ? 'client.replace' : 'client.create',
      targetType: 'client',
      targetId: clientId,
      before: existing ? auditView(existing) : null,
      after: auditView(row),
    });
    if ('clientSecret' in body && body.clientSecret) {
      const hash = ctx.keyring.hashSecret(body.clientSecret);
      // Idempotent: the same initial secret sent again stays one secret.
      if (!secrets.some((s) => s.secretHash.equals(hash))) {
        const created = await repo.insertSecret({ clientId, secretHash: hash, description: 'initial' });
        // A credential added by any route is in the trail, not only by POST …/secrets.
        await recordAudit(tx, ctx.actor, { action: 'client.secret.create', targetType: 'client', targetId: clientId, after: { ...secretView(created), via: 'PUT' } });
        await publish(tx, { type: 'client.secret_created', organizationId: row.organizationId, data: { clientId, ...secretView(created) } });
        secretCount += 1;
      }
    }
    await ctx.invalidation.publish(tx, 'client', clientId);
    const client = toClientResponse(row, secretCount);
    if (existing) {
      const was = toClientResponse(existing, secrets.length);
      const changed = previousAttributes({ ...was, updatedAt: client.updatedAt }, client);
      if (changed) await publish(tx, { type: 'client.updated', organizationId: row.organizationId, data: client, previousAttributes: { ...changed, updatedAt: was.updatedAt } });
    } else await publish(tx, { type: 'client.created', organizationId: row.organizationId, data: client });
    return { created: !existing, client };
  });
  ctx.invalidation.local('client', ctx.scope.tenantId, clientId);
  return result;
}

export async function getClient(scope: TenantScope, type: ClientType | undefined, clientId: string): Promise<ClientResponse> {
  const repo = clientsRepository(scope);
  const row = await repo.findClient(clientId);
  if (!row || (type && row.clientType !== type)) throw new NotFound(`No ${type ?? 'client'} "${clientId}".`);
  return toClientResponse(row, (await repo.listSecrets(clientId)).length);
}

export async function listClients(scope: TenantScope, type?: ClientType): Promise<ClientResponse[]> {
  const repo = clientsRepository(scope);
  const rows = await repo.listClients(type);
  const counts = await repo.countSecrets(rows.map((r) => r.clientId));
  return rows.map((r) => toClientResponse(r, counts.get(r.clientId) ?? 0));
}

export async function deleteClient(ctx: DownstreamContext, type: ClientType, clientId: string): Promise<void> {
  await ctx.scope.transaction(async (tx) => {
    const repo = clientsRepository(tx);
    const existing = await repo.lockClient(clientId);
    if (!existing || existing.clientType !== type) throw new NotFound(`No ${type} "${clientId}".`);
    assertMayManage(ctx.actor, clientId, existing.allowedScopes);
    await publish(tx, { type: 'client.deleted', organizationId: existing.organizationId, data: toClientResponse(existing, (await repo.listSecrets(clientId)).length) });
    await repo.deleteClient(clientId);
    await recordAudit(tx, ctx.actor, { action: 'client.delete', targetType: 'client', targetId: clientId, before: auditView(existing), after: null });
    await ctx.invalidation.publish(tx, 'client', clientId);
  });
  ctx.invalidation.local('client', ctx.scope.tenantId, clientId);
}

/**
 * Subscriber of `organization.deleted` (downstream/subscriptions.ts): the organization's clients go in its transaction,
 * each audited and invalidated on every instance at commit, and their refresh tokens and codes revoked.
 */
export async function deleteClientsOfOrganization(tx: TenantScope, actor: AuditActor, organizationId: string): Promise<void> {
  const repo = clientsRepository(tx);
  for (const client of await repo.lockClientsOfOrganization(organizationId)) {
    await publish(tx, { type: 'client.deleted', organizationId, data: toClientResponse(client, (await repo.listSecrets(client.clientId)).length), actor });
    await repo.deleteClient(client.clientId);
    await recordAudit(tx, actor, { action: 'client.delete', targetType: 'client', targetId: client.clientId, before: auditView(client), after: { reason: 'organization deleted', organizationId } });
    await publishInvalidation(tx, 'client', client.clientId);
  }
}

function secretView(s: SecretRow) {
  return { id: s.id, description: s.description, expiresAt: s.expiresAt?.toISOString() ?? null, createdAt: s.createdAt.toISOString() };
}

async function confidentialClient(scope: TenantScope, type: ClientType, clientId: string, actor?: Actor): Promise<ClientRow> {
  const row = await clientsRepository(scope).lockClient(clientId);
  if (!row || row.clientType !== type) throw new NotFound(`No ${type} "${clientId}".`);
  if (actor) assertMayManage(actor, clientId, row.allowedScopes);
  if (type === 'ClientSideApplication') throw new Invalid('A ClientSideApplication is a public client (RFC 6749 §2.1): it has no secrets.');
  return row;
}

export async function createSecret(
  ctx: DownstreamContext,
  type: ClientType,
  clientId: string,
  input: { description?: string | undefined; expiresAt?: string | undefined },
) {
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) throw new Invalid('expiresAt must be in the future.');
  const secret = generateSecret();
  const row = await ctx.scope.transaction(async (tx) => {
    const client = await confidentialClient(tx, type, clientId, ctx.actor);
    const repo = clientsRepository(tx);
    if ((await repo.listSecrets(clientId)).length >= 20) throw new Conflict('A client may have at most 20 secrets; delete an old one first.');
    const created = await repo.insertSecret({ clientId, secretHash: ctx.keyring.hashSecret(secret), description: input.description ?? null, expiresAt });
    await recordAudit(tx, ctx.actor, { action: 'client.secret.create', targetType: 'client', targetId: clientId, after: secretView(created) });
    await publish(tx, { type: 'client.secret_created', organizationId: client.organizationId, data: { clientId, ...secretView(created) } });
    await ctx.invalidation.publish(tx, 'client', clientId);
    return created;
  });
  ctx.invalidation.local('client', ctx.scope.tenantId, clientId);
  return { ...secretView(row), secret };
}

export async function listSecrets(scope: TenantScope, type: ClientType, clientId: string) {
  return scope.transaction(async (tx) => {
    await confidentialClient(tx, type, clientId);
    return (await clientsRepository(tx).listSecrets(clientId)).map(secretView);
  });
}

export async function deleteSecret(ctx: DownstreamContext, type: ClientType, clientId: string, secretId: string): Promise<void> {
  await ctx.scope.transaction(async (tx) => {
    const client = await confidentialClient(tx, type, clientId, ctx.actor);
    const deleted = await clientsRepository(tx).deleteSecret(clientId, secretId);
    if (!deleted) throw new NotFound(`No secret ${secretId} on "${clientId}".`);
    await publish(tx, { type: 'client.secret_deleted', organizationId: client.organizationId, data: { clientId, ...secretView(deleted) } });
    await recordAudit(tx, ctx.actor, { action: 'client.secret.delete', targetType: 'client', targetId: clientId, before: secretView(deleted) });
    await ctx.invalidation.publish(tx, 'client', clientId);
  });
  ctx.invalidation.local('client', ctx.scope.tenantId, clientId);
}

export async function listProtectedApis(scope: TenantScope) {
  return (await loadScopeCatalog(scope)).apis.map((a) => ({ audience: a.audience, displayName: a.displayName, scopes: [...a.scopes], builtIn: a.builtIn }));
}

export async function putProtectedApi(ctx: DownstreamContext, audience: string, input: { displayName: string; scopes: string[] }) {
  if (BUILT_IN_APIS.some((a) => a.audience === audience)) throw new Conflict(`"${audience}" is a built-in API.`);
  const scopes = [...new Set(input.scopes)];
  const result = await ctx.scope.transaction(async (tx) => {
    const catalog = await loadScopeCatalog(tx);
    const taken = scopes.filter((s) => {
      const owner = catalog.apiForScope(s);
      return (owner && owner.audience !== audience) || ['openid', 'profile', 'email', 'offline_access'].includes(s);
    });
    if (taken.length) throw new Conflict(`Scope(s) already belong to another API: ${taken.join(', ')}.`);
    const before = catalog.apis.find((a) => a.audience === audience);
    const row = await clientsRepository(tx).upsertProtectedApi({ audience, displayName: input.displayName, scopes });
    await recordAudit(tx, ctx.actor, {
      action: before ? 'protected-api.replace' : 'protected-api.create',
      targetType: 'protected-api',
      targetId: audience,
      before: before ? { ...before } : null,
      after: { audience, displayName: row.displayName, scopes: row.scopes },
    });
    await ctx.invalidation.publish(tx, 'protected-apis');
    return { created: !before, api: { audience, displayName: row.displayName, scopes: row.scopes, builtIn: false } };
  });
  ctx.invalidation.local('protected-apis', ctx.scope.tenantId);
  return result;
}

export async function deleteProtectedApi(ctx: DownstreamContext, audience: string): Promise<void> {
  await ctx.scope.transaction(async (tx) => {
    const deleted = await clientsRepository(tx).deleteProtectedApi(audience);
    if (!deleted) throw new NotFound(`No tenant API "${audience}".`);
    await recordAudit(tx, ctx.actor, { action: 'protected-api.delete', targetType: 'protected-api', targetId: audience, before: { ...deleted } });
    await ctx.invalidation.publish(tx, 'protected-apis');
  });
  ctx.invalidation.local('protected-apis', ctx.scope.tenantId);
}

/** Used by tenant bootstrap: a client and, for confidential types, a first secret (the given one or a generated one). */
export async function createClientWithSecret(
  scope: TenantScope,
  keys: Keyring,
  input: { clientId: string; clientType: ClientType; displayName: string; allowedScopes: string[]; secret?: string; secretDescription?: string },
): Promise<{ clientId: string; clientSecret: string | undefined }> {
  return scope.transaction(async (tx) => {
    const repo = clientsRepository(tx);
    await repo.insertClient({ clientId: input.clientId, clientType: input.clientType, displayName: input.displayName, allowedScopes: input.allowedScopes });
    if (input.clientType === 'ClientSideApplication') return { clientId: input.clientId, clientSecret: undefined };
    const secret = input.secret ?? generateSecret();
    await repo.insertSecret({ clientId: input.clientId, secretHash: keys.hashSecret(secret), description: input.secretDescription });
    return { clientId: input.clientId, clientSecret: secret };
  });
}
