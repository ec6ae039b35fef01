/**
 * The test mode of a connection sign-in (the Admin Portal's "Test connection"): a real round trip through the IdP,
 * validated exactly as a sign-in is (signatures, audience, destination, replay, …), after which the browser is shown
 * the normalized profile received or the precise reason it was refused. Nobody is admitted, linked, made a member or
 * signed in, and no session starts. A test is started by `startConnectionTest` (connection-routes.ts), whose sealed
 * transaction cookie carries the organization it was started for; the outcome is audited as `connection.test`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ScopeFor } from '../platform/db.ts';
import type { RoutableConnection } from '../connections/service.ts';
import { recordAudit } from '../audit/service.ts';
import { escapeHtml, page } from './pages.ts';
import { htmlReply } from './routes.ts';
import { FederationError, type VerifiedIdentity } from './federation.ts';
import { SamlError } from './saml.ts';

export type ConnectionTestOutcome = { ok: true; identity: VerifiedIdentity } | { ok: false; reason: string; detail: string };

function profileRows(identity: VerifiedIdentity): string {
  const rows: [string, string | undefined][] = [
    ['Subject (NameID / sub)', identity.subject],
    ['Email', identity.email],
    ['Email verified', String(identity.emailVerified)],
    ['Given name', identity.givenName],
    ['Family name', identity.familyName],
    ['Name', identity.name],
  ];
  const normalized = rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${v === undefined ? '<em>not sent</em>' : escapeHtml(v)}</td></tr>`).join('');
  const raw = Object.entries(identity.claims)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || Array.isArray(v))
    .slice(0, 50)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml((Array.isArray(v) ? v.join(', ') : String(v)).slice(0, 500))}</td></tr>`)
    .join('');
  return `<h2>Normalized profile</h2><table id="profile">${normalized}</table><h2>Everything the identity provider sent</h2><table id="raw">${raw}</table>`;
}

/** Runs `validate` (the protocol's own response check) and answers the result page instead of a sign-in. */
export async function connectionTestResult(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { scopeFor: ScopeFor },
  connection: RoutableConnection,
  test: { organizationId: string },
  validate: () => Promise<VerifiedIdentity>,
): Promise<FastifyReply> {
  const tenantName = request.tenant.displayName;
  if (test.organizationId !== connection.organizationId) {
    return htmlReply(reply, 404, page({ title: 'Test failed', tenantName, body: '<p class="error" role="alert">This connection is not part of the organization the test was started for.</p>' }));
  }
  let outcome: ConnectionTestOutcome;
  try {
    outcome = { ok: true, identity: await validate() };
  } catch (e) {
    if (e instanceof SamlError) outcome = { ok: false, reason: e.reason, detail: e.message };
    else if (e instanceof FederationError) outcome = { ok: false, reason: 'rejected', detail: e.message };
    else throw e;
  }
  await recordAudit(deps.scopeFor(request.tenant.id), { type: 'system', id: `connection:${connection.id}`, ip: request.ip }, {
    action: 'connection.test',
    targetType: 'connection',
    targetId: connection.id,
    after: outcome.ok ? { outcome: 'success', subject: outcome.identity.subject } : { outcome: 'failure', reason: outcome.reason, detail: outcome.detail.slice(0, 300) },
  });
  const where = `<p>Connection <strong>${escapeHtml(connection.displayName)}</strong> (${connection.type.toUpperCase()}). Nobody was signed in by this test.</p>`;
  const body = outcome.ok
    ? `<p class="ok" role="status" id="test-outcome">The test succeeded: the identity provider signed this user in and the response was valid.</p>${where}${profileRows(outcome.identity)}<p>You can close this window.</p>`
    : `<p class="error" role="alert" id="test-outcome">The test failed: <code id="test-reason">${escapeHtml(outcome.reason)}</code></p>${where}<p id="test-detail">${escapeHtml(outcome.detail)}</p><p>Correct the settings in the portal and test again. You can close this window.</p>`;
  return htmlReply(reply, outcome.ok ? 200 : 400, page({ title: outcome.ok ? 'Test succeeded' : 'Test failed', tenantName, body }));
}
