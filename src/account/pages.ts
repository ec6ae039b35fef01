/** The account page: server-rendered HTML in the sign-in pages' frame (src/signin/pages.ts), nothing loaded from elsewhere. */
import { escapeHtml, page } from '../signin/pages.ts';
import type { AccountOverview } from './service.ts';

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
}

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** "upstream:AzureAd:hesehus" → "AzureAd (hesehus)"; "pwd" → "Password". */
function methodLabel(method: string): string {
  if (method === 'pwd') return 'Password';
  const [kind, type, id] = method.split(':');
  if (kind === 'upstream' || kind === 'connection') return `${type ?? kind} (${id ?? ''})`;
  return method;
}

/** A short device description from the User-Agent: the browser and the platform, when they are recognisable. */
function device(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrome\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : undefined;
  const platform = /Windows/.test(userAgent) ? 'Windows' : /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : undefined;
  return browser && platform ? `${browser} on ${platform}` : userAgent.slice(0, 60);
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

export function accountPage(opts: { tenantName: string; account: AccountOverview; csrf: string; notice?: Notice | undefined; signOutForm: string }): string {
  const { user, organizations, sessions, identities } = opts.account;
  const csrf = hidden('csrf', opts.csrf);
  const notice = opts.notice ? `<p class="${opts.notice.kind}" role="${opts.notice.kind === 'error' ? 'alert' : 'status'}">${escapeHtml(opts.notice.text)}</p>` : '';

  const profile = `<section aria-labelledby="profile"><h2 id="profile">Profile</h2>
<table><tbody>
<tr><th scope="row">Email</th><td>${escapeHtml(user.email ?? '—')} ${user.email ? `<span class="muted">${user.emailVerified ? '(verified)' : '(not verified)'}</span>` : ''}</td></tr>
<tr><th scope="row">User name</th><td>${escapeHtml(user.userName)}</td></tr>
<tr><th scope="row">Roles</th><td>${escapeHtml(user.roles.join(', ') || 'none')}</td></tr>
</tbody></table>
<form method="post" action="/account/profile">${csrf}<label for="displayName">Name</label><input id="displayName" name="displayName" autocomplete="name" maxlength="200" value="${escapeHtml(user.displayName ?? '')}"><button type="submit">Save name</button></form></section>`;

  const orgs = `<section aria-labelledby="orgs"><h2 id="orgs">Organizations</h2>${
    organizations.length
      ? `<table><thead><tr><th scope="col">Organization</th><th scope="col">Your roles</th></tr></thead><tbody>${organizations.map((o) => `<tr><td>${escapeHtml(o.displayName)}</td><td>${escapeHtml(o.roles.join(', ') || 'member')}</td></tr>`).join('')}</tbody></table>`
      : '<p class="muted">You are not a member of any organization.</p>'
  }</section>`;

  const others = sessions.filter((s) => !s.current).length;
  const sessionRows = sessions
    .map(
      (s) => `<tr><td>${escapeHtml(device(s.userAgent))}${s.current ? ' <span class="current">(this browser)</span>' : ''}<br><span class="muted">${escapeHtml(s.ip ?? '')}</span></td>
<td>${escapeHtml(methodLabel(s.method))}</td><td>${when(s.authTime)}<br><span class="muted">last seen ${when(s.lastSeenAt)}</span></td>
<td><form method="post" action="/account/sessions/end">${csrf}${hidden('sid', s.sid)}<button type="submit" class="secondary" aria-label="${s.current ? 'Sign out of this browser' : `End the session on ${escapeHtml(device(s.userAgent))} started ${when(s.authTime)}`}">${s.current ? 'Sign out' : 'End'}</button></form></td></tr>`,
    )
    .join('');
  const sessionsSection = `<section aria-labelledby="sessions"><h2 id="sessions">Active sessions</h2>
<table><thead><tr><th scope="col">Device</th><th scope="col">Signed in with</th><th scope="col">Since</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>${sessionRows}</tbody></table>
${others ? `<form method="post" action="/account/sessions/end-others">${csrf}<button type="submit" class="button secondary">Sign out of all other sessions (${others})</button></form>` : ''}</section>`;

  const lastWayIn = !user.passwordSet && identities.length <= 1;
  const identityRows = identities
    .map(
      (i) => `<tr><td>${escapeHtml(i.providerType === 'connection' ? 'SSO connection' : i.providerType)} <span class="muted">${escapeHtml(i.providerId)}</span></td><td>${escapeHtml(i.email ?? i.subject)}</td><td>${i.lastSignInAt ? when(i.lastSignInAt) : '—'}</td>
<td>${
        lastWayIn
          ? '<span class="muted">Your only way to sign in</span>'
          : `<form method="post" action="/account/identities/unlink">${csrf}${hidden('providerType', i.providerType)}${hidden('providerId', i.providerId)}${hidden('subject', i.subject)}<button type="submit" class="secondary" aria-label="Unlink ${escapeHtml(i.providerType)} ${escapeHtml(i.email ?? i.subject)}">Unlink</button></form>`
      }</td></tr>`,
    )
    .join('');
  const identitiesSection = `<section aria-labelledby="identities"><h2 id="identities">Linked identities</h2>${
    identities.length
      ? `<table><thead><tr><th scope="col">Provider</th><th scope="col">Account</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>${identityRows}</tbody></table>`
      : '<p class="muted">No identity provider is linked to this account.</p>'
  }</section>`;

  const password = user.passwordSet
    ? `<section aria-labelledby="password"><h2 id="password">Change password</h2><form method="post" action="/account/password">${csrf}
<label for="current_password">Current password</label><input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new_password">New password</label><input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="12" required aria-describedby="password-rule">
<p id="password-rule" class="muted">At least 12 characters, and not a common password. Changing it signs you out everywhere else.</p>
<label for="new_password_confirm">New password again</label><input id="new_password_confirm" name="new_password_confirm" type="password" autocomplete="new-password" required>
<button type="submit">Change password</button></form></section>`
    : '';

  return page({ title: 'Your account', tenantName: opts.tenantName, wide: true, body: `${notice}${profile}${orgs}${sessionsSection}${identitiesSection}${password}<section>${opts.signOutForm}</section>` });
}
