/** The IdP simulator's pages, in the sign-in pages' layout (signin/pages.ts): a form for who to be, then the answer. */
import { escapeHtml, page } from '../signin/pages.ts';
import type { SimulatedUser } from './service.ts';

const warning = '<p class="error" role="note">A simulated identity provider for trying SSO out: whoever is typed here is signed in. Never use it for real accounts.</p>';

/** Who to sign in as; `sealed` is the request being answered, `action` where the form goes. */
export function simulatorSignInPage(opts: { tenantName: string; protocol: 'SAML' | 'OIDC'; action: string; sealed: string; idpInitiated?: boolean; error?: string; user?: Partial<SimulatedUser> }): string {
  const u = { email: 'john.doe@example.com', givenName: 'John', familyName: 'Doe', groups: ['engineering'], ...opts.user };
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  const field = (name: string, label: string, value: string, extra = '') =>
    `<label for="${name}">${label}</label><input id="${name}" name="${name}" value="${escapeHtml(value)}"${extra}>`;
  return page({
    title: `IdP Simulator (${opts.protocol})`,
    tenantName: opts.tenantName,
    body:
      `${warning}${error}<p>${opts.idpInitiated ? 'Starting at the identity provider (IdP-initiated), as a dashboard tile does.' : 'An application asked this identity provider to sign someone in.'} Sign in as:</p>` +
      `<form method="post" action="${escapeHtml(opts.action)}"><input type="hidden" name="request" value="${escapeHtml(opts.sealed)}">` +
      field('email', 'Email', u.email, ' type="email" required autocomplete="off"') +
      field('givenName', 'Given name', u.givenName) +
      field('familyName', 'Family name', u.familyName) +
      field('groups', 'Groups (comma-separated)', u.groups.join(', ')) +
      `<p class="muted">Only an address at one of the organization's verified domains (example.com, example.org for the test organization) becomes a member.</p>` +
      `<button type="submit">Sign in</button></form>`,
  });
}

/** SAML 2.0 Bindings §3.5 (HTTP-POST): the signed Response, shown for the curious, posted on by the button. */
export function samlPostPage(opts: { tenantName: string; acsUrl: string; samlResponse: string; relayState: string; email: string }): string {
  const xml = Buffer.from(opts.samlResponse, 'base64').toString('utf8');
  return page({
    title: 'IdP Simulator (SAML)',
    tenantName: opts.tenantName,
    wide: true,
    body:
      `${warning}<p>A signed SAML Response for <strong>${escapeHtml(opts.email)}</strong>, to be posted to the service provider's ACS.</p>` +
      `<form method="post" action="${escapeHtml(opts.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${escapeHtml(opts.samlResponse)}">` +
      (opts.relayState ? `<input type="hidden" name="RelayState" value="${escapeHtml(opts.relayState)}">` : '') +
      `<button type="submit">Continue</button></form>` +
      `<details><summary>The SAML Response</summary><pre style="white-space:pre-wrap;font-size:.75rem">${escapeHtml(xml)}</pre></details>`,
  });
}
