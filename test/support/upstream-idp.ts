/**
 * A real OpenID Provider on loopback (the npm package `oidc-provider`) playing an upstream IdP:
 * - Entra ID: issuer `http://127.0.0.1:P/<tid>/v2.0` (mounted under that path, as Microsoft's is) with a `tid`
 *   claim; plus a multi-tenant discovery document at `/organizations/v2.0/.well-known/openid-configuration` whose
 *   issuer is the `{tenantid}` template, as Microsoft publishes it.
 * - Google: issuer `http://127.0.0.1:P`, `email_verified`, `hd` for Workspace accounts.
 * - Auth0: issuer `http://127.0.0.1:P/`.
 * Interactions log in whichever account the test chose with `nextLogin(...)`, so tests drive the real protocol
 * without a login UI; `nextLogin` can also make the provider deny access.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

export interface Account {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  tid?: string;
  hd?: string;
}

export interface UpstreamIdp {
  issuer: string;
  /** The discovery URL to configure at our upstream provider (the override). */
  discoveryUrl: string;
  /** Entra only: the `{tenantid}`-templated multi-tenant document. */
  multiTenantDiscoveryUrl: string;
  clientId: string;
  clientSecret: string;
  nextLogin(account: Account | 'deny'): void;
  /** Change the next ID tokens' claims (hostile tests), e.g. a wrong `iss` is impossible here, so expire instead. */
  provider: Provider;
  close(): Promise<void>;
}

export async function startUpstreamIdp(opts: {
  kind: 'entra' | 'google' | 'auth0';
  redirectUris: string[];
  /** Also accept redirect URIs matching this (our per-connection callbacks carry ids made after the IdP starts). */
  redirectUriPattern?: RegExp;
  tid?: string;
  /** Hostile tests: rewrite the ID token's claims at the token endpoint, re-signed with the IdP's real key. */
  mutateIdToken?: (claims: JWTPayload) => JWTPayload;
  /** Browser tests: a real login page where the user types an email; these accounts can sign in. */
  loginForm?: Account[];
}): Promise<UpstreamIdp> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const tid = opts.tid ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const mount = opts.kind === 'entra' ? `/${tid}/v2.0` : '';
  const issuer = opts.kind === 'auth0' ? `${origin}/` : `${origin}${mount}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'idp-key', alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, Account>();
  let next: Account | 'deny' = { sub: 'nobody' };
  // Entra application (client) ids are GUIDs.
  const clientId = opts.kind === 'entra' ? '0f0e0d0c-0b0a-4909-8807-060504030201' : `client-${opts.kind}`;
  const clientSecret = `secret-${opts.kind}-0123456789abcdef`;

  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: opts.redirectUris.length ? opts.redirectUris : ['https://unused.example/callback'], token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'RS256' }],
    jwks: { keys: [jwk] },
    findAccount: async (_ctx, id) => {
      const a = accounts.get(id);
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ ...a, sub: id }) };
    },
    claims: { openid: ['sub', 'tid', 'hd'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    cookies: { keys: ['test-cookie-key'] },
  });
  provider.proxy = false;
  if (opts.redirectUriPattern) {
    const pattern = opts.redirectUriPattern;
    const proto = (provider.Client as unknown as { prototype: { redirectUriAllowed(v: string): boolean } }).prototype;
    const listed = proto.redirectUriAllowed;
    proto.redirectUriAllowed = function (this: unknown, v: string) {
      return pattern.test(v) || listed.call(this, v);
    };
  }

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      const url = req.url ?? '/';
      if (opts.kind === 'entra' && url === '/organizations/v2.0/.well-known/openid-configuration') {
        const doc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ...doc, issuer: `${origin}/{tenantid}/v2.0` }));
        return;
      }
      if (mount && !url.startsWith(mount)) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const inner = url.slice(mount.length) || '/';
      if (inner.startsWith('/interaction/')) {
        // Emulate a mount (Express-style) so oidc-provider sees its own paths.
        Object.assign(req, { originalUrl: url, url: inner });
        const details = await provider.interactionDetails(req, res);
        if (opts.loginForm && req.method === 'GET') {
          res.setHeader('content-type', 'text/html; charset=utf-8');
          res.end(`<!doctype html><title>${opts.kind} sign-in</title><h1>Sign in to ${opts.kind}</h1>
<form method="post"><label for="email">Email</label><input id="email" name="email" type="email"><button type="submit">Next</button></form>`);
          return;
        }
        if (opts.loginForm) {
          const form = new URLSearchParams(await new Promise<string>((r) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => r(b)); }));
          const found = opts.loginForm.find((a) => a.email === form.get('email'));
          next = found ?? 'deny';
        }
        if (next === 'deny') {
          await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user declined.' }, { mergeWithLastSubmission: false });
          return;
        }
        const account = next;
        accounts.set(account.sub, account);
        const grant = new provider.Grant({ accountId: account.sub, clientId: String(details.params.client_id) });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { login: { accountId: account.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
        return;
      }
      Object.assign(req, { originalUrl: url, url: inner });
      if (opts.mutateIdToken && inner === '/token') rewriteIdToken(res, opts.mutateIdToken, privateKey);
      callback(req, res);
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });

  return {
    issuer,
    discoveryUrl: `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    multiTenantDiscoveryUrl: `${origin}/organizations/v2.0/.well-known/openid-configuration`,
    clientId,
    clientSecret,
    nextLogin: (a) => {
      next = a;
    },
    provider,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Re-signs the ID token in a token response on its way out (oidc-provider ends the response with the whole body). */
function rewriteIdToken(res: http.ServerResponse, mutate: (c: JWTPayload) => JWTPayload, key: CryptoKey): void {
  const end = res.end.bind(res) as (chunk?: unknown) => http.ServerResponse;
  res.end = ((chunk?: unknown) => {
    const body = chunk ? JSON.parse(String(chunk)) as { id_token?: string } : {};
    if (!body.id_token) return end(chunk);
    void new SignJWT(mutate(decodeJwt(body.id_token)))
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-key' })
      .sign(key)
      .then((idToken) => {
        const out = JSON.stringify({ ...body, id_token: idToken });
        res.setHeader('content-length', Buffer.byteLength(out));
        end(out);
      });
    return res;
  }) as typeof res.end;
}
