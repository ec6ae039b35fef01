/**
 * Server-rendered sign-in pages: plain HTML and inline CSS, nothing loaded from anywhere else, labels on every
 * field, the tenant's name on every page.
 */
const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => escapeMap[c]!);
}

const style = `body{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0;color:#1b1b1b}
main{max-width:24rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 .25rem}p.tenant{color:#555;margin:0 0 1.5rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #888;border-radius:4px;font-size:1rem}
button,.button{display:block;width:100%;margin-top:1.25rem;padding:.7rem;border:0;border-radius:4px;background:#0b57d0;color:#fff;font-size:1rem;cursor:pointer;text-align:center;text-decoration:none;box-sizing:border-box}
.error{background:#fde7e9;border:1px solid #d93025;padding:.6rem;border-radius:4px}.providers{margin-top:1.5rem;border-top:1px solid #ddd;padding-top:1rem}
.button.secondary{background:#fff;color:#0b57d0;border:1px solid #0b57d0}
.ok{background:#e6f4ea;border:1px solid #137333;padding:.6rem;border-radius:4px}h2{font-size:1.05rem;margin:1.25rem 0 .5rem}
main.wide{max-width:46rem}td form{margin:0}td button{margin:0;padding:.35rem .6rem;width:auto;font-size:.85rem}
.muted{color:#555;font-size:.85rem}.current{font-weight:600;color:#137333}section{margin-top:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:anywhere}`;

/** `wide`: pages with tables (the account page) rather than one form. */
export function page(opts: { title: string; tenantName: string; body: string; wide?: boolean }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(opts.title)} · ${escapeHtml(opts.tenantName)}</title><style>${style}</style></head>
<body><main${opts.wide ? ' class="wide"' : ''}><h1>${escapeHtml(opts.title)}</h1><p class="tenant">${escapeHtml(opts.tenantName)}</p>${opts.body}</main></body></html>`;
}

export interface ProviderLink {
  displayName: string;
  href: string;
}

/** The password is not `required`: an email at an SSO domain goes on to its IdP without one (home-realm discovery). */
export function loginPage(opts: { tenantName: string; returnTo: string; csrf: string; error?: string; login?: string; providers?: ProviderLink[] }): string {
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  const providers = opts.providers?.length
    ? `<div class="providers"><p>Or sign in with</p>${opts.providers.map((p) => `<a class="button secondary" href="${escapeHtml(p.href)}">${escapeHtml(p.displayName)}</a>`).join('')}</div>`
    : '';
  return page({
    title: 'Sign in',
    tenantName: opts.tenantName,
    body: `${error}<form method="post" action="/login">
<input type="hidden" name="return_to" value="${escapeHtml(opts.returnTo)}"><input type="hidden" name="csrf" value="${escapeHtml(opts.csrf)}">
<label for="login">Email</label><input id="login" name="login" type="text" autocomplete="username" required value="${escapeHtml(opts.login ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" aria-describedby="password-hint">
<p id="password-hint" class="muted">Not needed for an address whose organization signs in with its own identity provider.</p>
<button type="submit">Sign in</button></form>${providers}`,
  });
}

/**
 * Home-realm discovery's answer to the login form: a page that moves on to the IdP by itself (meta refresh) and by a
 * link, not a redirect. A form submission's redirects are held to the page's CSP `form-action 'self'`, so a 303 from
 * the form's POST to the connection's start (and on to the IdP's origin) is blocked by browsers; a new navigation
 * from this page is not a form submission.
 */
export function continuePage(opts: { tenantName: string; href: string }): string {
  const href = escapeHtml(opts.href);
  return page({
    title: 'Continuing to your sign-in',
    tenantName: opts.tenantName,
    body: `<meta http-equiv="refresh" content="0;url=${href}"><p>Your organization signs you in with its own identity provider.</p><a class="button" href="${href}">Continue</a>`,
  });
}

export function messagePage(opts: { title: string; tenantName: string; message: string; status?: 'error' | 'info' }): string {
  return page({ title: opts.title, tenantName: opts.tenantName, body: `<p${opts.status === 'error' ? ' class="error" role="alert"' : ''}>${escapeHtml(opts.message)}</p>` });
}
