/**
 * The SCIM bearer strategy of a directory's own base URL (`/directories/{id}/scim/v2`): a directory token
 * (`iamdir_…`) of that directory, and nothing else. Failures count towards the same abuse limits as client secrets
 * (platform/rate-limit.ts, credential `directory:<id>`), so guessing at one directory's endpoint slows down without
 * locking out its identity provider, which presents the right token from its own addresses.
 */
import type { TenantScope } from '../platform/db.ts';
import type { TenantId } from '../platform/tenancy/tenant.ts';
import type { ScimPluginOptions } from '../scim/plugin.ts';
import { ScimError } from '../scim/errors.ts';
import type { FailureLimiter } from '../platform/rate-limit.ts';
import { FULL_AUTHORITY } from '../platform/permissions.ts';
import { Forbidden } from '../platform/errors/domain.ts';
import { InvalidToken } from '../platform/errors/oauth.ts';
import { recordAudit } from '../audit/service.ts';
import type { ScimAuthStrategy } from '../scim/auth.ts';
import { SCIM_READ, SCIM_WRITE } from '../scim/auth.ts';
import { checkDirectoryToken, directoryScimPath } from './service.ts';

export interface DirectoryTokenDeps {
  scopeFor(tenantId: TenantId): TenantScope;
  limiter: FailureLimiter;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The SCIM plugin's options for the directories' base URLs: the path carries the directory id (lowercase uuid, as
 * `scimBaseUrl` gives it; anything else is 404 before anything else runs), the token decides, and every resource
 * request works in that directory's partition.
 */
export function directoryScimMount(deps: DirectoryTokenDeps & { directoryScopeFor(tenantId: TenantId, directoryId: string): TenantScope }): Omit<ScimPluginOptions, 'metrics'> & { prefix: string } {
  return {
    prefix: directoryScimPath(':directoryId'),
    basePath: (request) => {
      const id = (request.params as { directoryId?: string }).directoryId ?? '';
      if (!UUID.test(id)) throw new ScimError(404, undefined, 'No such directory.');
      return directoryScimPath(id);
    },
    scopeOf: (request) => {
      const directoryId = request.scimPrincipal?.directoryId;
      // Discovery is unauthenticated and reads only tenant settings.
      return directoryId ? deps.directoryScopeFor(request.tenant.id, directoryId) : deps.scopeFor(request.tenant.id);
    },
    strategies: [directoryTokenStrategy(deps)],
  };
}

const REASONS: Record<string, string> = {
  unknown: 'The directory token is not valid.',
  'wrong-directory': 'This token belongs to another directory.',
  revoked: 'The directory token was revoked.',
  expired: 'The directory token has expired.',
  'not-a-directory-token': 'This endpoint takes a directory token (iamdir_...), issued at POST /api/directories/{id}/tokens.',
};

export function directoryTokenStrategy(deps: DirectoryTokenDeps): ScimAuthStrategy {
  return async (request, credential) => {
    const directoryId = (request.params as { directoryId?: string }).directoryId ?? '';
    const tenant = request.tenant;
    const attempt = { tenantId: tenant.id, kind: 'client' as const, credential: `directory:${directoryId}`, address: request.ip };
    await deps.limiter.check(attempt);
    const scope = deps.scopeFor(tenant.id);
    const result = await checkDirectoryToken(scope, directoryId, credential);
    if (!result.ok) {
      if (result.reason === 'disabled') throw new Forbidden('This directory is disabled.');
      await deps.limiter.fail(attempt);
      if (result.reason === 'wrong-directory' || result.reason === 'revoked' || result.reason === 'expired') {
        await scope.transaction((tx) =>
          recordAudit(tx, { type: 'system', id: `directory:${directoryId}`, ip: request.ip }, { action: 'directory.token.refused', targetType: 'directory', targetId: directoryId, after: { reason: result.reason } }),
        );
      }
      // The message goes into WWW-Authenticate (RFC 6750 §3): ASCII only.
      throw new InvalidToken(REASONS[result.reason] ?? REASONS.unknown!);
    }
    return {
      // A directory's IdP provisions its own partition only: admin-equivalent there, nothing anywhere else.
      authority: FULL_AUTHORITY,
      actorType: 'directory',
      actorId: result.directory.id,
      clientId: `directory:${result.directory.id}`,
      scopes: [SCIM_READ, SCIM_WRITE],
      via: 'directory_token',
      directoryId: result.directory.id,
    };
  };
}
