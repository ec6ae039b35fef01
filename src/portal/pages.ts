/**
 * The Admin Portal's HTML: server-rendered, inline CSS and one small nonce'd script (copy buttons, the test pop-up,
 * reading an uploaded file into its text field), nothing from anywhere else. Every field has a label, every action
 * is a button or link reachable by keyboard, text contrast is at least 4.5:1 (WCAG 2.2 SC 1.4.3: #1b1b1b and #0b57d0
 * on white, white on #0b57d0).
 */
import { escapeHtml } from '../signin/pages.ts';
import type { PortalIntent } from '../db/schema/index.ts';

export const INTENT_TITLES: Record<PortalIntent, string> = {
  sso: 'Single sign-on',
  dsync: 'Directory sync',
  domain_verification: 'Domain verification',
  certificate_renewal: 'Certificate renewal',
};

export const INTENT_PATHS: Record<PortalIntent, string> = {
  sso: '/portal/sso',
  dsync: '/portal/dsync',
  domain_verification: '/portal/domains',
  certificate_renewal: '/portal/certificates',
};

const style = `*{box-sizing:border-box}body{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0;color:#1b1b1b;line-height:1.45}
header{background:#fff;border-bottom:1px solid #ccc;padding:.75rem 1.5rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header .org{font-weight:700}header .intent{color:#444}header nav{margin-left:auto;display:flex;gap:.5rem;align-items:center}
main{max-width:48rem;margin:1.5rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .25rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}label.check{display:flex;gap:.5rem;align-items:center}.hint{color:#444;font-size:.9rem;margin:.2rem 0}
input[type=text],input[type=url],input[type=password],select,textarea{width:100%;padding:.55rem;border:1px solid #767676;border-radius:4px;font-size:1rem;font-family:inherit}
textarea{font-family:ui-monospace,monospace;font-size:.85rem;min-height:8rem}
button,.button{display:inline-block;margin-top:1rem;padding:.6rem 1rem;border:1px solid #0b57d0;border-radius:4px;background:#0b57d0;color:#fff;font-size:1rem;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:#0b57d0}button.danger{background:#fff;color:#b3261e;border-color:#b3261e}
button:focus-visible,.button:focus-visible,a:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f9ab00;outline-offset:2px}
a{color:#0b57d0}.inline{display:inline}.inline button{margin-top:0}
.error{background:#fde7e9;border:1px solid #b3261e;padding:.6rem;border-radius:4px}.ok{background:#e6f4ea;border:1px solid #137333;padding:.6rem;border-radius:4px}
.value{display:flex;gap:.5rem;align-items:center;margin:.25rem 0 .75rem}.value code{flex:1;background:#f1f3f4;padding:.45rem;border-radius:4px;word-break:break-all;font-size:.85rem}
.value button{margin:0;padding:.35rem .7rem;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:.5rem 0}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;vertical-align:top}
.idps{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.75rem;list-style:none;padding:0}
.idps a{display:block;padding:1rem;border:1px solid #767676;border-radius:6px;text-decoration:none;color:#1b1b1b}.idps a:hover{border-color:#0b57d0}
.idps strong{display:block;color:#0b57d0}.status{font-weight:700}.status-verified,.status-active{color:#137333}.status-pending,.status-draft{color:#8a4b00}.status-failed,.status-inactive{color:#b3261e}
ol li{margin:.3rem 0}fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:.5rem 1rem 1rem}legend{font-weight:700}`;

/**
 * Copy buttons (`data-copy` names the element whose text is copied), the test pop-up (`data-popup`), and files read
 * into a text field (`data-file-into`). The clipboard API needs a secure context (https, or loopback).
 */
const script = `document.addEventListener('click',async(e)=>{const b=e.target.closest('[data-copy]');if(b){const t=document.getElementById(b.dataset.copy).textContent;try{await navigator.clipboard.writeText(t);b.textContent='Copied'}catch{const r=document.createRange();r.selectNodeContents(document.getElementById(b.dataset.copy));getSelection().removeAllRanges();getSelection().addRange(r);b.textContent='Press Ctrl+C'}setTimeout(()=>{b.textContent='Copy'},2000);return}
const p=e.target.closest('[data-popup]');if(p){e.preventDefault();const w=window.open(p.dataset.popup,'iam-connection-test','popup,width=620,height=720');if(!w)location.href=p.dataset.popup}});
document.addEventListener('change',(e)=>{const f=e.target.closest('[data-file-into]');if(f&&f.files[0]){f.files[0].text().then((t)=>{document.getElementById(f.dataset.fileInto).value=t})}});`;

export interface PortalFrame {
  tenantName: string;
  organizationName: string;
  intent: PortalIntent;
  csrf: string;
  returnUrl: string | null;
  nonce: string;
}

export function portalPage(frame: PortalFrame, opts: { title: string; body: string; notice?: { kind: 'ok' | 'error'; text: string } | undefined }): string {
  const done = frame.returnUrl ? `<a class="button secondary" href="${escapeHtml(frame.returnUrl)}" target="_top">Done</a>` : '';
  const notice = opts.notice ? `<p class="${opts.notice.kind}" role="${opts.notice.kind === 'error' ? 'alert' : 'status'}">${escapeHtml(opts.notice.text)}</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(opts.title)} · ${escapeHtml(frame.organizationName)} · ${escapeHtml(frame.tenantName)}</title><style>${style}</style></head>
<body><header><span class="org">${escapeHtml(frame.organizationName)}</span><span class="intent">${escapeHtml(INTENT_TITLES[frame.intent])} · ${escapeHtml(frame.tenantName)}</span>
<nav aria-label="Portal">${done}<form class="inline" method="post" action="/portal/end">${csrfField(frame.csrf)}<button type="submit" class="secondary">End session</button></form></nav></header>
<main><h1>${escapeHtml(opts.title)}</h1>${notice}${opts.body}</main><script nonce="${frame.nonce}">${script}</script></body></html>`;
}

export function csrfField(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

let copyIds = 0;
/** A value to hand to the IdP, with a label and a copy button. */
export function copyValue(label: string, value: string, id = `v${++copyIds}`): string {
  return `<h3 id="${id}-label">${escapeHtml(label)}</h3><div class="value"><code id="${id}" aria-labelledby="${id}-label">${escapeHtml(value)}</code><button type="button" class="secondary" data-copy="${id}" aria-label="Copy ${escapeHtml(label)}">Copy</button></div>`;
}

export function field(opts: { name: string; label: string; value?: string | undefined; type?: 'text' | 'url' | 'password'; required?: boolean; hint?: string; autocomplete?: string }): string {
  const hintId = opts.hint ? ` aria-describedby="${opts.name}-hint"` : '';
  return `<label for="${opts.name}">${escapeHtml(opts.label)}</label>${opts.hint ? `<p class="hint" id="${opts.name}-hint">${escapeHtml(opts.hint)}</p>` : ''}<input id="${opts.name}" name="${opts.name}" type="${opts.type ?? 'text'}"${opts.required ? ' required' : ''}${hintId} autocomplete="${opts.autocomplete ?? 'off'}" value="${escapeHtml(opts.value ?? '')}">`;
}

/**
 * A PEM or XML field that can also be filled from a file. `file` names the file in its label ("…or choose a
 * certificate file"), so two such fields on one page are told apart by assistive technology.
 */
export function textareaWithFile(opts: { name: string; label: string; hint: string; value?: string; required?: boolean; accept: string; file: string }): string {
  return `<label for="${opts.name}">${escapeHtml(opts.label)}</label><p class="hint" id="${opts.name}-hint">${escapeHtml(opts.hint)}</p>
<textarea id="${opts.name}" name="${opts.name}" aria-describedby="${opts.name}-hint"${opts.required ? ' required' : ''} spellcheck="false">${escapeHtml(opts.value ?? '')}</textarea>
<label for="${opts.name}-file">…or choose a ${escapeHtml(opts.file)} file</label><input id="${opts.name}-file" type="file" accept="${escapeHtml(opts.accept)}" data-file-into="${opts.name}">`;
}

export function postButton(action: string, csrf: string, label: string, opts: { kind?: 'secondary' | 'danger'; hidden?: Record<string, string>; ariaLabel?: string } = {}): string {
  const hidden = Object.entries(opts.hidden ?? {})
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return `<form class="inline" method="post" action="${escapeHtml(action)}">${csrfField(csrf)}${hidden}<button type="submit"${opts.kind ? ` class="${opts.kind}"` : ''}${opts.ariaLabel ? ` aria-label="${escapeHtml(opts.ariaLabel)}"` : ''}>${escapeHtml(label)}</button></form>`;
}

export const status = (s: string) => `<span class="status status-${escapeHtml(s)}">${escapeHtml(s)}</span>`;

export const when = (d: Date | null | undefined) => (d ? `<time datetime="${d.toISOString()}">${escapeHtml(d.toUTCString())}</time>` : '—');

export { escapeHtml };
