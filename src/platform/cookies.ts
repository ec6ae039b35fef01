/**
 * The service's cookies, all through @fastify/cookie (RFC 6265bis). One policy for every cookie: HttpOnly,
 * SameSite=Lax, Path=/, never a Domain; over https also Secure and the `__Host-` name prefix (RFC 6265bis §4.1.3.2),
 * so a sibling subdomain can neither set nor overwrite them (no cookie tossing). Over plain http (loopback
 * development) the prefix would make browsers drop the cookie, so the bare name is used there.
 * A cookie set twice in one reply is sent once (the plugin keys them by name and path): the last value wins.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';

/** Registers cookie parsing in the calling (encapsulated) plugin; no signing: our values are random or sealed. */
export async function cookieSupport(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCookie);
}

/** The name a cookie has on this request's scheme: `__Host-<name>` over https. */
export function cookieName(request: FastifyRequest, name: string): string {
  return request.protocol === 'https' ? `__Host-${name}` : name;
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies?.[cookieName(request, name)];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * `crossSitePost`: the cookie must come back on a cross-site form POST (a SAML IdP posting to our ACS), so it is
 * `SameSite=None` — over TLS only, as browsers require `Secure` for it; over plain http it stays `Lax`.
 */
export function setCookie(request: FastifyRequest, reply: FastifyReply, name: string, value: string, opts: { maxAgeSeconds?: number; crossSitePost?: boolean } = {}): void {
  const secure = request.protocol === 'https';
  reply.setCookie(cookieName(request, name), value, {
    path: '/',
    httpOnly: true,
    sameSite: opts.crossSitePost && secure ? 'none' : 'lax',
    secure,
    ...(opts.maxAgeSeconds !== undefined ? { maxAge: opts.maxAgeSeconds } : {}),
  });
}

export function clearCookie(request: FastifyRequest, reply: FastifyReply, name: string): void {
  setCookie(request, reply, name, '', { maxAgeSeconds: 0 });
}
