/**
 * IdP-initiated sign-in handed to the application (issue #11 item 6; Scalekit's `idp_initiated_login` step in its
 * standard form, OpenID Connect Core §4 "Initiating Login from a Third Party"). A sign-in started at the IdP is never
 * a login here. When the connection names an application (`settings.idpInitiatedClientId`) that registered an
 * `initiateLoginUri`, the browser goes there with:
 * - `iss`: this tenant's issuer, so the application knows which OP to start an authorization request at;
 * - `login_hint`: who the IdP named (SAML: from the validated, now consumed, unsolicited assertion; OIDC: the hint
 *   the IdP passed on), a hint only;
 * - `target_link_uri`: where the IdP wanted the user to land, only when it is on the origin of the application's
 *   `initiateLoginUri` or of one of its redirect URIs (the application must still check it, §4);
 * - `connection_id` and `organization_id` (extensions): to send the user back through the same connection.
 * Otherwise (no application, none with that id, or no `initiateLoginUri`) undefined: the caller starts a fresh
 * SP-initiated sign-in at the connection that ends on this service.
 */
import type { TenantScope } from '../platform/db.ts';
import { NotFound } from '../platform/errors/domain.ts';
import { getClient } from '../downstream/service.ts';
import type { RoutableConnection } from '../connections/service.ts';

export async function applicationInitiateLoginUrl(
  scope: TenantScope,
  issuer: string,
  connection: RoutableConnection,
  hints: { loginHint?: string | undefined; targetLinkUri?: string | undefined },
): Promise<string | undefined> {
  const clientId = connection.settings.idpInitiatedClientId;
  if (!clientId) return undefined;
  let app;
  try {
    app = await getClient(scope, undefined, clientId);
  } catch (e) {
    if (e instanceof NotFound) return undefined;
    throw e;
  }
  if (app.type === 'MachineClient' || !app.initiateLoginUri) return undefined;
  const url = new URL(app.initiateLoginUri);
  url.searchParams.set('iss', issuer);
  const loginHint = hints.loginHint?.trim();
  if (loginHint && loginHint.length <= 320) url.searchParams.set('login_hint', loginHint);
  const target = sameOriginAs(hints.targetLinkUri, [app.initiateLoginUri, ...app.redirectUris]);
  if (target) url.searchParams.set('target_link_uri', target);
  url.searchParams.set('connection_id', connection.id);
  url.searchParams.set('organization_id', connection.organizationId);
  return url.toString();
}

function sameOriginAs(candidate: string | undefined, registered: string[]): string | undefined {
  if (!candidate || candidate.length > 2048) return undefined;
  try {
    const u = new URL(candidate);
    return registered.some((r) => new URL(r).origin === u.origin) ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}
