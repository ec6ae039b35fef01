/**
 * Email templates: every message in HTML and plain text (RFC 2046 §5.1.4 multipart/alternative, built by nodemailer),
 * with the tenant's name and branding. The HTML is inline-styled tables, as mail clients render them, and loads
 * nothing but the tenant's own logo (https only, set by its administrator). Every value is escaped.
 */
import type { MailMessage } from './transport.ts';

export interface MailBranding {
  /** The tenant's display name: the sender the recipient knows. */
  tenantName: string;
  logoUrl: string | null;
  color: string | null;
}

const DEFAULT_COLOR = '#0b57d0';
const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => escapeMap[c]!);
/** Header-safe: no line breaks in a subject (RFC 5322 §2.2 header injection). */
const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ').trim();

/** The stored values are validated on the way in; checked again here because they land inside markup. */
function safeColor(color: string | null): string {
  return color && /^#[0-9a-fA-F]{6}$/.test(color) ? color : DEFAULT_COLOR;
}
function safeLogo(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** One call to action: a heading, paragraphs, a button with the link, and the link spelled out for text-only readers. */
function layout(brand: MailBranding, opts: { heading: string; paragraphs: string[]; action: { label: string; href: string }; footer: string }): { html: string; text: string } {
  const color = safeColor(brand.color);
  const logo = safeLogo(brand.logoUrl);
  const name = escapeHtml(brand.tenantName);
  const header = logo ? `<img src="${escapeHtml(logo)}" alt="${name}" height="40" style="display:block;max-height:40px;border:0">` : `<strong style="font-size:18px;color:${color}">${name}</strong>`;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(opts.heading)}</title></head>
<body style="margin:0;padding:0;background:#f5f6f8;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1b1b">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f5f6f8;padding:24px 0"><tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;border-top:4px solid ${color}">
<tr><td style="padding:24px 32px 8px">${header}</td></tr>
<tr><td style="padding:8px 32px"><h1 style="font-size:20px;margin:0 0 12px">${escapeHtml(opts.heading)}</h1>
${opts.paragraphs.map((p) => `<p style="font-size:15px;line-height:1.5;margin:0 0 12px">${escapeHtml(p)}</p>`).join('\n')}</td></tr>
<tr><td style="padding:8px 32px 16px"><a href="${escapeHtml(opts.action.href)}" style="display:inline-block;background:${color};color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:4px;font-weight:600">${escapeHtml(opts.action.label)}</a></td></tr>
<tr><td style="padding:0 32px 16px;font-size:13px;color:#555">If the button does not work, open this link:<br><a href="${escapeHtml(opts.action.href)}" style="color:${color};word-break:break-all">${escapeHtml(opts.action.href)}</a></td></tr>
<tr><td style="padding:16px 32px 24px;font-size:12px;color:#777;border-top:1px solid #eee">${escapeHtml(opts.footer)}</td></tr>
</table></td></tr></table></body></html>`;
  const text = [brand.tenantName, '', opts.heading, '', ...opts.paragraphs.flatMap((p) => [p, '']), `${opts.action.label}: ${opts.action.href}`, '', '-- ', opts.footer, ''].join('\n');
  return { html, text };
}

export interface InvitationMailInput {
  to: string;
  /** null: an invitation to the tenant itself (SCIM `sendInvitation`). */
  organizationName: string | null;
  link: string;
  expiresAt: Date;
}

export function invitationMail(brand: MailBranding, input: InvitationMailInput): MailMessage {
  const where = input.organizationName ? `${input.organizationName} on ${brand.tenantName}` : brand.tenantName;
  const expires = input.expiresAt.toUTCString();
  const { html, text } = layout(brand, {
    heading: `You are invited to join ${where}`,
    paragraphs: [
      `Someone at ${brand.tenantName} invited ${input.to} to join ${where}.`,
      `Accept the invitation to set up your account. The link works once and expires on ${expires}.`,
    ],
    action: { label: 'Accept invitation', href: input.link },
    footer: `If you did not expect this invitation, you can ignore this email: nothing happens until the link is used.`,
  });
  return { to: input.to, subject: oneLine(`Invitation to join ${where}`), html, text, link: input.link };
}
