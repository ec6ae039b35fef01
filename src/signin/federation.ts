/**
 * Sign-in at an upstream OpenID Provider (Entra ID, Google, Auth0): authorization code + PKCE (RFC 7636), state and
 * nonce (OIDC Core §3.1.2.1), ID token validated for signature, issuer, audience, expiry and nonce (§3.1.3.7).
 *
 * Built on oauth4webapi, the engine under openid-client: its request/process split lets us choose the expected
 * issuer after reading the token response, which Entra ID's multi-tenant `{tenantid}` issuer template needs on any
 * host (see docs/adr/0003-upstream-federation-on-oauth4webapi.md).
 */
import * as oauth from 'oauth4webapi';
import { decodeJwt } from 'jose';
import type { Outbound } from '../platform/outbound.ts';
import { discoveryUrlOf, type UpstreamProvider } from '../upstream/service.ts';

/** Entra ID's tenant for personal Microsoft accounts: `organizations` excludes it. */
export const MSA_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

export class FederationError extends Error {
  /** What the user is shown: never the internal detail. */
  readonly userMessage: string;
  constructor(detail: string, userMessage = 'Sign-in with your identity provider did not succeed. Please try again.') {
    super(detail);
    this.userMessage = userMessage;
  }
}

export interface Transaction {
  state: string;
  nonce: string;
  verifier: string;
}

export interface VerifiedIdentity {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
  givenName: string | undefined;
  familyName: string | undefined;
  /** Entra ID: the user's directory. */
  tid?: string;
  claims: Record<string, unknown>;
}

/**
 * An OpenID Provider we federate with: a tenant-wide upstream (its type decides discovery and extra rules), or an
 * organization's generic OIDC connection (type `oidc`: its own discovery URL, scopes and claim names).
 */
export type FederatedProvider =
  | (UpstreamProvider & { clientSecret: string | null })
  | { type: 'oidc'; id: string; clientId: string; clientSecret: string | null; discoveryUrl: string; scopes: string[]; claimMapping: ClaimMapping; settings: Record<string, never> };

export interface ClaimMapping {
  email?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  groups?: string | undefined;
}

const METADATA_TTL_MS = 600_000;
/** The document fields we use; each endpoint must obey the same https rule as the configured discovery URL. */
const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const;

/**
 * oauth4webapi request options: every request (token, JWKS) through the bounded fetcher, which itself refuses plain
 * http except to loopback when the policy allows it; so oauth4webapi's own https check may defer to it.
 */
function options(outbound: Outbound) {
  return { [oauth.customFetch]: outbound.fetch, [oauth.allowInsecureRequests]: outbound.policy.allowLoopback };
}

function parseMetadata(outbound: Outbound, url: string, json: unknown): oauth.AuthorizationServer {
  const doc = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const misconfigured = (detail: string) => new FederationError(`discovery at ${url}: ${detail}`, 'The identity provider is misconfigured.');
  if (typeof doc.issuer !== 'string') throw misconfigured('lacks issuer');
  for (const k of ENDPOINTS) {
    const value = doc[k];
    if (typeof value !== 'string') throw misconfigured(`lacks ${k}`);
    const problem = outbound.check(value);
    if (problem) throw misconfigured(`${k} refused: ${problem}`);
  }
  return doc as unknown as oauth.AuthorizationServer;
}

/**
 * The provider's metadata through the bounded fetcher: cached for ten minutes per discovery URL, and a failure
 * (unreachable, too large, a refused endpoint) for the fetcher's failure window.
 */
export async function providerMetadata(outbound: Outbound, provider: FederatedProvider): Promise<oauth.AuthorizationServer> {
  const url = provider.type === 'oidc' ? provider.discoveryUrl : discoveryUrlOf(provider);
  try {
    return await outbound.document(url, (json) => parseMetadata(outbound, url, json), METADATA_TTL_MS);
  } catch (e) {
    if (e instanceof FederationError) throw e;
    throw new FederationError(`discovery at ${url} failed: ${(e as Error).message}`, 'The identity provider cannot be reached right now.');
  }
}

export async function authorizationUrl(
  outbound: Outbound,
  provider: FederatedProvider,
  redirectUri: string,
  hints: { loginHint?: string | undefined; domainHint?: string | undefined; forceLogin?: boolean },
): Promise<{ url: URL; transaction: Transaction }> {
  const as = await providerMetadata(outbound, provider);
  const transaction = { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), verifier: oauth.generateRandomCodeVerifier() };
  const url = new URL(as.authorization_endpoint!);
  const params: Record<string, string> = {
    client_id: provider.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: provider.type === 'oidc' ? [...new Set(['openid', ...provider.scopes])].join(' ') : 'openid profile email',
    state: transaction.state,
    nonce: transaction.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(transaction.verifier),
    code_challenge_method: 'S256',
  };
  if (hints.loginHint) params.login_hint = hints.loginHint;
  if (hints.forceLogin) params.prompt = 'login';
  if (provider.type === 'AzureAd' && hints.domainHint) params.domain_hint = hints.domainHint;
  // Google: `hd` narrows the account chooser; it is enforced on the ID token below, not trusted from here.
  if (provider.type === 'Google' && provider.settings.hostedDomain) params.hd = provider.settings.hostedDomain;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url, transaction };
}

function templateMatcher(template: string): RegExp {
  const [before, after] = template.split('{tenantid}').map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${before}[0-9a-fA-F-]{36}${after}$`);
}

/** Exchanges the code and validates everything; returns the verified identity or throws FederationError. */
export async function completeSignIn(
  outbound: Outbound,
  provider: FederatedProvider,
  redirectUri: string,
  currentUrl: URL,
  transaction: Transaction,
): Promise<VerifiedIdentity> {
  const as = await providerMetadata(outbound, provider);
  const client: oauth.Client = { client_id: provider.clientId };
  const auth = provider.clientSecret ? oauth.ClientSecretPost(provider.clientSecret) : oauth.None();
  const templated = as.issuer.includes('{tenantid}');
  // RFC 9207: a templated issuer's `iss` response parameter must be the template with some tenant filled in; the
  // ID token must later name that same issuer.
  const issParam = currentUrl.searchParams.get('iss');
  if (templated && issParam !== null && !templateMatcher(as.issuer).test(issParam)) throw new FederationError('iss response parameter does not fit the issuer template');
  let params: URLSearchParams;
  try {
    // Checks state (CSRF) and, when the provider sends it, the RFC 9207 `iss` parameter.
    params = oauth.validateAuthResponse(templated && issParam ? { ...as, issuer: issParam } : as, client, currentUrl, transaction.state);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) {
      const denied = e.error === 'access_denied';
      throw new FederationError(`provider error: ${e.error}`, denied ? 'Sign-in was cancelled at your identity provider.' : undefined);
    }
    throw new FederationError(`authorization response rejected: ${(e as Error).message}`);
  }
  const opts = options(outbound);
  const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, transaction.verifier, opts).catch((e: Error) => {
    throw new FederationError(`token request failed: ${e.message}`, 'The identity provider cannot be reached right now.');
  });
  // Entra ID multi-tenant metadata names `https://…/{tenantid}/v2.0`; the token names the user's tenant. Resolve the
  // template from the token's `tid`, then validate against that; the signed `tid` must match what we substituted.
  let expected = as;
  if (templated) {
    const body = (await response.clone().json().catch(() => ({}))) as { id_token?: string };
    let tid: unknown;
    try {
      tid = body.id_token ? decodeJwt(body.id_token).tid : undefined;
    } catch {
      tid = undefined;
    }
    if (typeof tid !== 'string' || !/^[0-9a-f-]{36}$/i.test(tid)) throw new FederationError('ID token without a valid tid for a templated issuer');
    expected = { ...as, issuer: as.issuer.replace('{tenantid}', tid) };
    if (issParam !== null && issParam !== expected.issuer) throw new FederationError('iss response parameter and ID token tenant differ');
  }
  let result;
  try {
    result = await oauth.processAuthorizationCodeResponse(expected, client, response, { expectedNonce: transaction.nonce, requireIdToken: true });
    // The ID token came over the back channel; we verify its signature too, whatever the transport.
    await oauth.validateApplicationLevelSignature(expected, response, opts);
  } catch (e) {
    throw new FederationError(`ID token rejected: ${(e as Error).message}`);
  }
  const claims = oauth.getValidatedIdTokenClaims(result)! as unknown as Record<string, unknown>;
  const mapping = provider.type === 'oidc' ? provider.claimMapping : {};
  const str = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : undefined);
  const identity: VerifiedIdentity = {
    subject: String(claims.sub),
    email: str(mapping.email ?? 'email'),
    emailVerified: emailIsVerified(provider, claims),
    name: str('name'),
    givenName: str(mapping.givenName ?? 'given_name'),
    familyName: str(mapping.familyName ?? 'family_name'),
    ...(typeof claims.tid === 'string' ? { tid: claims.tid } : {}),
    claims,
  };
  enforceProviderRules(provider, identity, templated);
  return identity;
}

/**
 * Entra ID does not assert that `email` is verified unless it says so (`email_verified`, or `xms_edov` for domain
 * owner verified): matching users by an unverified Entra email is how "nOAuth" account takeovers happen.
 */
function emailIsVerified(provider: FederatedProvider, claims: Record<string, unknown>): boolean {
  const truthy = (v: unknown) => v === true || v === 'true' || v === 'True' || v === 1;
  if (provider.type === 'AzureAd') return truthy(claims.email_verified) || truthy(claims.xms_edov);
  return truthy(claims.email_verified);
}

function enforceProviderRules(provider: FederatedProvider, identity: VerifiedIdentity, templatedIssuer: boolean): void {
  if (provider.type === 'oidc') return;
  const s = provider.settings;
  if (provider.type === 'AzureAd') {
    const configured = (s.tenantId ?? '').toLowerCase();
    const isGuid = /^[0-9a-f-]{36}$/.test(configured);
    if (isGuid && identity.tid?.toLowerCase() !== configured) throw new FederationError(`tid ${identity.tid} is not the configured tenant`, 'Your account belongs to another organization.');
    if (templatedIssuer && !identity.tid) throw new FederationError('multi-tenant sign-in without tid');
    if (configured === 'organizations' && identity.tid?.toLowerCase() === MSA_TENANT_ID) throw new FederationError('personal Microsoft account at an organizations-only provider', 'Personal Microsoft accounts cannot sign in here.');
  }
  if (provider.type === 'Google' && s.hostedDomain) {
    // Google: `hd` is present only for Workspace accounts; its value must be ours (the request parameter is a UI hint).
    if (identity.claims.hd !== s.hostedDomain) throw new FederationError(`hd ${String(identity.claims.hd)} is not ${s.hostedDomain}`, 'Your Google account is not part of this organization.');
  }
}
