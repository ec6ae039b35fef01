/**
 * JWT access tokens, RFC 9068, https://www.rfc-editor.org/rfc/rfc9068
 * Issued with `typ: at+jwt` (§2.1) and verified with every check of §4: typ, iss, aud (by the caller), exp, alg.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { InvalidToken } from '../platform/errors/oauth.ts';
import type { Tenant } from '../platform/tenancy/tenant.ts';
import { SIGNING_ALGS, type SigningAlg } from '../db/schema/index.ts';
import type { KeyStore } from './keys.ts';

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  /** The tenant id, beside `iss`, for resource servers that keep one key set per tenant. */
  tid: string;
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export class AccessTokens {
  private readonly keys: KeyStore;
  constructor(keys: KeyStore) {
    this.keys = keys;
  }

  async issue(
    tenant: Tenant,
    input: { sub: string; clientId: string; scopes: string[]; audiences: string[]; ttlSeconds: number; alg?: SigningAlg },
  ): Promise<{ token: string; claims: AccessTokenClaims }> {
    const key = await this.keys.signingKey(tenant.id, input.alg ?? 'ES256');
    const iat = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      iss: tenant.issuer,
      sub: input.sub,
      aud: input.audiences.length === 1 ? input.audiences[0]! : input.audiences,
      client_id: input.clientId,
      scope: input.scopes.join(' '),
      jti: randomUUID(),
      iat,
      exp: iat + input.ttlSeconds,
      tid: tenant.id,
    };
    const token = await new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE }).sign(key.privateKey);
    return { token, claims };
  }

  /** Verifies a token for `tenant`; any failure is `invalid_token` (RFC 6750 §3.1) with a short reason. */
  async verify(tenant: Tenant, token: string): Promise<AccessTokenClaims> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new InvalidToken('The access token is malformed.');
    }
    // RFC 8725 §3.1: accept only the algorithms we sign with; `none` and HS* never verify.
    if (!header.kid || !SIGNING_ALGS.includes(header.alg as SigningAlg)) throw new InvalidToken('The access token is not signed by this issuer.');
    const key = await this.keys.verificationKey(tenant.id, header.kid);
    if (!key || key.alg !== header.alg) throw new InvalidToken('The access token is not signed by this issuer.');
    try {
      const { payload } = await jwtVerify(token, key.key, { issuer: tenant.issuer, typ: ACCESS_TOKEN_TYPE, algorithms: [key.alg], requiredClaims: ['sub', 'exp', 'iat', 'client_id', 'jti'] });
      return payload as AccessTokenClaims;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new InvalidToken('The access token expired.');
      throw new InvalidToken('The access token is not valid.');
    }
  }
}
