/**
 * The request every target gets, the one-request validation before measuring, and the autocannon run.
 */
import autocannon, { type Result } from 'autocannon';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';

export interface TokenRequest {
  /** Full URL of the token endpoint. */
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** client_secret_basic, RFC 6749 §2.3.1: id and secret are form-urlencoded, joined by ':', then base64. */
export function tokenRequest(url: string, clientId: string, clientSecret: string, scope: string): TokenRequest {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return {
    url,
    headers: {
      authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  };
}

export class ValidationFailed extends Error {}

/**
 * One real request: it must answer 200 with a JSON body. With `expectJwt`, the body must carry an access token
 * that is an `at+jwt` signed with `expectJwt.alg` (default ES256) whose signature verifies against the issuer's
 * published JWKS (found through its discovery document). Returns the response body's size in bytes.
 */
export async function validate(
  name: string,
  req: TokenRequest,
  expectJwt?: { issuer: string; discoveryUrl: string; alg?: 'ES256' | 'EdDSA' },
): Promise<{ bytes: number; summary: string }> {
  const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new ValidationFailed(`${name}: validation request answered ${res.status}: ${text.slice(0, 500)}`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ValidationFailed(`${name}: validation response is not JSON: ${text.slice(0, 200)}`);
  }
  const bytes = Buffer.byteLength(text);
  if (!expectJwt) return { bytes, summary: `200, ${bytes} B body` };

  const token = json.access_token;
  if (typeof token !== 'string' || !token) throw new ValidationFailed(`${name}: 200 but no access_token in ${text.slice(0, 200)}`);
  const alg = expectJwt.alg ?? 'ES256';
  const header = decodeProtectedHeader(token);
  if (header.alg !== alg || header.typ !== 'at+jwt') {
    throw new ValidationFailed(`${name}: expected an ${alg} at+jwt access token, got alg=${header.alg} typ=${header.typ}`);
  }
  const discovery = (await (await fetch(expectJwt.discoveryUrl, { signal: AbortSignal.timeout(10_000) })).json()) as { jwks_uri?: string };
  if (!discovery.jwks_uri) throw new ValidationFailed(`${name}: no jwks_uri in ${expectJwt.discoveryUrl}`);
  const jwks = (await (await fetch(discovery.jwks_uri, { signal: AbortSignal.timeout(10_000) })).json()) as JSONWebKeySet;
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: expectJwt.issuer, typ: 'at+jwt', algorithms: [alg] });
    return {
      bytes,
      summary: `200, ${alg} at+jwt verified with ${discovery.jwks_uri} (aud ${JSON.stringify(payload.aud)}, scope ${JSON.stringify(payload.scope)}), ${bytes} B body`,
    };
  } catch (e) {
    throw new ValidationFailed(`${name}: the access token does not verify against ${discovery.jwks_uri}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface LoadOptions {
  connections: number;
  seconds: number;
}

export async function load(req: TokenRequest, opts: LoadOptions): Promise<Result> {
  const instance = autocannon({
    url: req.url,
    method: 'POST',
    headers: req.headers,
    body: req.body,
    connections: opts.connections,
    duration: opts.seconds,
    pipelining: 1,
    // A request slower than this counts as a timeout (and an error) rather than stalling the run.
    timeout: 10,
  });
  return await instance;
}
