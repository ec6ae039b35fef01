/**
 * Client authentication at the token, introspection and revocation endpoints.
 * - client_secret_basic / client_secret_post: RFC 6749 §2.3.1, https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * - private_key_jwt: RFC 7523 §2.2 and §3, OpenID Connect Core §9
 * - none: public clients (ClientSideApplication) identify themselves with client_id only (RFC 6749 §2.1).
 * Presented secrets are HMACed and compared in constant time with every live secret of the client.
 */
import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { InvalidClient, InvalidRequest } from '../platform/errors/oauth.ts';
import { safeEqual, type Keyring } from '../platform/crypto.ts';
import type { ScopeFor, TenantScope } from '../platform/db.ts';
import { failureFloor, type FailureLimiter } from '../platform/rate-limit.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import type { ClientRow } from '../downstream/repository.ts';
import type { ClientDirectory } from '../downstream/directory.ts';
import { oauthRepository } from './repository.ts';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
export const CLIENT_AUTH_METHODS: ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AuthenticatedClient {
  client: ClientRow;
  method: ClientAuthMethod;
}

export interface Credentials {
  clientId: string;
  method: ClientAuthMethod;
  secret?: string;
  /** Basic credentials as sent, when form-decoding changed them: many clients (curl -u, Scalar) do not form-encode. */
  rawSecret?: string;
  assertion?: string;
}

/** §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** PostgreSQL text cannot hold NUL: such an id names no client, and must not reach a query (it would be a 500). */
function checked(creds: Credentials): Credentials {
  if (creds.clientId.includes('\u0000')) throw new InvalidClient('Client authentication failed.');
  return creds;
}

export function readCredentials(request: FastifyRequest, body: Record<string, unknown>): Credentials {
  return checked(readPresented(request, body));
}

function readPresented(request: FastifyRequest, body: Record<string, unknown>): Credentials {
  const header = request.headers.authorization;
  const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
  const postId = str('client_id');
  const postSecret = str('client_secret');
  const assertion = str('client_assertion');
  const hasBasic = !!header && /^basic /i.test(header);
  // §2.3: "The client MUST NOT use more than one authentication method in each request."
  if ([hasBasic, postSecret !== undefined, assertion !== undefined].filter(Boolean).length > 1) {
    throw new InvalidRequest('Use exactly one client authentication method.');
  }
  if (hasBasic) {
    const decoded = Buffer.from(header!.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new InvalidClient('The Basic credentials are malformed.');
    const rawId = decoded.slice(0, colon);
    const rawSecret = decoded.slice(colon + 1);
    let clientId: string;
    let secret: string;
    try {
      clientId = formDecode(rawId);
      secret = formDecode(rawSecret);
    } catch {
      // Not form-encoded at all (e.g. a literal "%"): take the values as sent.
      clientId = rawId;
      secret = rawSecret;
    }
    if (postId !== undefined && postId !== clientId && postId !== rawId) throw new InvalidRequest('client_id in the body differs from the Basic credentials.');
    return { clientId, secret, ...(rawSecret !== secret ? { rawSecret } : {}), method: 'client_secret_basic' };
  }
  if (assertion !== undefined) {
    if (str('client_assertion_type') !== JWT_BEARER) throw new InvalidRequest(`client_assertion_type must be ${JWT_BEARER}.`);
    // RFC 7523 §3: iss and sub are the client_id; read it without trusting it, verification follows.
    let clientId: string | undefined;
    try {
      const payload = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
      clientId = typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch {
      clientId = undefined;
    }
    if (!clientId) throw new InvalidClient('The client assertion is malformed.');
    if (postId !== undefined && postId !== clientId) throw new InvalidClient('client_id differs from the assertion subject.');
    return { clientId, assertion, method: 'private_key_jwt' };
  }
  if (postId === undefined) throw new InvalidClient('Client authentication is required.');
  return postSecret === undefined ? { clientId: postId, method: 'none' } : { clientId: postId, secret: postSecret, method: 'client_secret_post' };
}

/** The least time a failed client authentication takes: longer than the lookups and the counting it hides. */
export const FAILURE_FLOOR_MS = 50;

export interface ClientAuthDeps {
  directory: ClientDirectory;
  keyring: Keyring;
  limiter: FailureLimiter;
  scopeFor: ScopeFor;
}

/**
 * Authenticates. Failures are counted per (client id, address), per address and per client id, and refused with
 * 429 only as platform/rate-limit.ts explains: the right secret from a source that has not failed always works.
 * Every failure answers after the same minimum time, so a wrong secret for a known client, an unknown client id
 * and a cache miss look alike (bench/client-auth-timing.ts measures it).
 */
export async function authenticateClient(
  deps: ClientAuthDeps,
  tenant: Tenant,
  creds: Credentials,
  ctx: { ip: string; endpointUrl: string },
): Promise<AuthenticatedClient> {
  const started = performance.now();
  const attempt = { tenantId: tenant.id, kind: 'client' as const, credential: creds.clientId, address: ctx.ip };
  await deps.limiter.check(attempt);
  try {
    return await verify(deps, tenant, creds, ctx.endpointUrl);
  } catch (e) {
    if (e instanceof InvalidClient) {
      await deps.limiter.fail(attempt);
      await failureFloor(started, FAILURE_FLOOR_MS);
    }
    throw e;
  }
}

async function verify(deps: ClientAuthDeps, tenant: Tenant, creds: Credentials, endpointUrl: string): Promise<AuthenticatedClient> {
  const entry = await deps.directory.client(tenant.id, creds.clientId);
  const client = entry?.client;
  if (creds.method === 'none') {
    if (client?.clientType === 'ClientSideApplication') return { client, method: 'none' };
    throw new InvalidClient('Client authentication failed.');
  }
  if (creds.method === 'private_key_jwt') {
    if (!client?.jwks?.keys.length) throw new InvalidClient('Client authentication failed.');
    try {
      // RFC 7523 §3: aud is the token endpoint URL (or, per OIDC Core §9, the issuer); exp and jti are required.
      const { payload } = await jwtVerify(creds.assertion!, createLocalJWKSet(client.jwks as JSONWebKeySet), {
        issuer: client.clientId,
        subject: client.clientId,
        audience: [endpointUrl, tenant.issuer, `${tenant.issuer}/oauth2/token`],
        requiredClaims: ['exp', 'jti'],
        maxTokenAge: '10m',
        algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      });
      // RFC 7523 §3 item 7: a jti is accepted once.
      const first = await oauthRepository(deps.scopeFor(tenant.id)).useAssertion(client.clientId, String(payload.jti), new Date(payload.exp! * 1000));
      if (!first) throw new InvalidClient('The client assertion was already used.');
      return { client, method: 'private_key_jwt' };
    } catch (e) {
      if (e instanceof InvalidClient) throw e;
      throw new InvalidClient('Client authentication failed.');
    }
  }
  const presented = [creds.secret ?? '', ...(creds.rawSecret !== undefined ? [creds.rawSecret] : [])].map((v) => deps.keyring.hashSecret(v));
  const now = Date.now();
  let ok = false;
  for (const s of entry?.secrets ?? []) {
    // Every live secret is compared, each in constant time: timing does not reveal which one matched.
    const live = s.expiresAt === null || s.expiresAt.getTime() > now;
    for (const p of presented) ok = (safeEqual(p, s.hash) && live) || ok;
  }
  if (!client || !ok || client.clientType === 'ClientSideApplication') throw new InvalidClient('Client authentication failed.');
  return { client, method: creds.method };
}

