/**
 * Cross-site request forgery defences for the HTML forms (OWASP CSRF Prevention Cheat Sheet):
 * - a synchronizer token bound to what it protects: an HMAC, under the keyring, of the purpose and the secret id
 *   of the session or sign-in transaction (never a bare double-submit value an attacker could pair up himself);
 * - Fetch Metadata and Origin (Fetch standard): a form post must come from the tenant's own origin.
 */
import type { FastifyRequest } from 'fastify';
import { safeEqual, type Keyring } from './crypto.ts';

export type CsrfPurpose = 'login' | 'logout' | 'invitation' | 'portal' | 'account';

export function csrfToken(keyring: Keyring, purpose: CsrfPurpose, binding: string): string {
  return keyring.hashSecret(`csrf/v1\u0000${purpose}\u0000${binding}`).toString('base64url');
}

export function verifyCsrf(keyring: Keyring, purpose: CsrfPurpose, binding: string | undefined, presented: unknown): boolean {
  if (!binding || typeof presented !== 'string' || presented.length > 100) return false;
  return safeEqual(Buffer.from(csrfToken(keyring, purpose, binding)), Buffer.from(presented));
}

/**
 * True when the browser says the request was made by another site: `Sec-Fetch-Site` other than `same-origin`
 * (`none` is the user's own navigation) or an `Origin` that is neither the issuer's nor this request's own
 * (the host the browser used, as seen through trusted proxies). Sibling hosts are other tenants, so `same-site`
 * counts as cross-site. Clients that send neither header rely on the token alone.
 */
export function isCrossSite(request: FastifyRequest, issuer: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  return origin !== undefined && origin !== new URL(issuer).origin && origin !== `${request.protocol}://${request.host}`;
}
