/**
 * Bearer token protection for resource routes, RFC 6750, https://www.rfc-editor.org/rfc/rfc6750
 * A route states the audience and scope it needs; the token must be ours (this tenant's issuer and keys), unexpired,
 * for that audience, and carry that scope.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { InsufficientScope, InvalidRequest, InvalidToken, MissingToken } from './errors/oauth.ts';
import { Forbidden } from './errors/domain.ts';
import type { Tenant } from './tenancy/tenant.ts';

export interface Principal {
  /** `sub`: a client id for machine tokens, a user id for user tokens. */
  subject: string;
  clientId: string;
  scopes: string[];
}

export interface AccessTokenVerifier {
  /** Signature, claims, and still active (not revoked, client exists, user active). */
  verifyActive(tenant: Tenant, token: string): Promise<{ sub: string; client_id: string; scope: string; aud: string | string[] }>;
}

/** User tokens must also pass this (the user's roles); machine tokens are authorized by scope alone. */
export type UserAuthorizer = (tenant: Tenant, userId: string, request: FastifyRequest) => Promise<boolean>;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The OAuth client behind the request, for the request log. */
    clientId: string | null;
  }
}

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; the other two methods of §2 are not offered. */
export function bearerToken(request: FastifyRequest): string {
  const h = request.headers.authorization;
  if (!h) throw new MissingToken('An access token is required.');
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(h);
  if (!m) throw new InvalidRequest('The Authorization header is not a Bearer token.');
  return m[1]!;
}

export function requireScope(verifier: AccessTokenVerifier, opts: { audience: string; scope: string; authorizeUser?: UserAuthorizer }): onRequestAsyncHookHandler {
  return async function requireScopeHook(request) {
    const claims = await verifier.verifyActive(request.tenant, bearerToken(request));
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(opts.audience)) throw new InvalidToken('The access token is not meant for this API.');
    const scopes = claims.scope ? claims.scope.split(' ') : [];
    request.principal = { subject: claims.sub, clientId: claims.client_id, scopes };
    request.clientId = claims.client_id;
    if (!scopes.includes(opts.scope)) throw Object.assign(new InsufficientScope(`This operation needs scope ${opts.scope}.`), { requiredScope: opts.scope });
    if (claims.sub !== claims.client_id && opts.authorizeUser && !(await opts.authorizeUser(request.tenant, claims.sub, request))) {
      throw new Forbidden('Your account does not have a role that allows this.');
    }
  };
}

/** The audit actor behind an authenticated request: a machine client, or a user signed in through a client. */
export function actorOf(request: FastifyRequest): { type: 'client' | 'user'; id: string; ip: string } {
  const p = request.principal;
  if (!p) throw new Error('actorOf called on an unauthenticated request');
  return { type: p.subject === p.clientId ? 'client' : 'user', id: p.subject, ip: request.ip };
}
