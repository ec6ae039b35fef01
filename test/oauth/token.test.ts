/** Token endpoint: RFC 6749 §4.4 client_credentials, §2.3.1 client authentication, §5.2 errors; RFC 9068 tokens. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, createLocalJWKSet, jwtVerify } from 'jose';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let t: TestTenant;
const form = 'application/x-www-form-urlencoded';

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
});
afterAll(() => env.close());

function token(body: Record<string, string>, headers: Record<string, string> = {}) {
  return env.app.inject({ method: 'POST', url: '/oauth2/token', headers: { host: t.host, 'content-type': form, ...headers }, payload: new URLSearchParams(body).toString() });
}

describe('client_credentials', () => {
  it('RFC 6749 §4.4 with client_secret_basic: an RFC 9068 access token', async () => {
    const res = await token({ grant_type: 'client_credentials', scope: 'iam/' }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'iam/' });
    const header = decodeProtectedHeader(body.access_token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ iss: `http://${t.host}`, sub: t.clientId, client_id: t.clientId, aud: 'iam', scope: 'iam/', tid: t.tenant.id });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(typeof claims.jti).toBe('string');
    // The JWKS verifies it.
    const jwks = (await env.app.inject({ url: '/oauth2/jwks', headers: { host: t.host } })).json();
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: `http://${t.host}`, audience: 'iam', typ: 'at+jwt' });
    expect(payload.sub).toBe(t.clientId);
  });

  it('RFC 6749 §2.3.1 client_secret_post', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: t.clientId, client_secret: t.clientSecret });
    expect(res.statusCode).toBe(200);
    // §3.3: no scope requested → the client's allowed scopes.
    expect(res.json().scope).toBe('iam/');
  });

  it('RFC 6749 §2.3.1: Basic credentials are form-encoded before base64', async () => {
    const raw = 'Basic ' + Buffer.from(`${t.clientId}:${t.clientSecret}`).toString('base64');
    expect((await token({ grant_type: 'client_credentials' }, { authorization: raw })).statusCode).toBe(200);
  });
});

describe('RFC 6749 §5.2 errors', () => {
  it('wrong secret → 401 invalid_client with a Basic challenge', async () => {
    const res = await token({ grant_type: 'client_credentials' }, { authorization: basic(t.clientId, 'x'.repeat(43)) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_client' });
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('unknown client → the same 401 invalid_client', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'whatever' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
  });

  it('no client authentication → 401 invalid_client', async () => {
    const res = await token({ grant_type: 'client_credentials' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('two authentication methods at once → invalid_request', async () => {
    const res = await token({ grant_type: 'client_credentials', client_secret: t.clientSecret }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });

  it('missing grant_type → invalid_request', async () => {
    const res = await token({}, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('unknown grant_type → unsupported_grant_type', async () => {
    const res = await token({ grant_type: 'urn:example:magic' }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('unsupported_grant_type');
  });

  it('scope "iam" without the trailing slash → invalid_scope', async () => {
    const res = await token({ grant_type: 'client_credentials', scope: 'iam' }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_scope');
  });

  it('a known scope the client is not allowed → invalid_scope (no escalation)', async () => {
    const res = await token({ grant_type: 'client_credentials', scope: 'iam/ damapi/' }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('a repeated parameter → invalid_request', async () => {
    const res = await env.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { host: t.host, 'content-type': form, authorization: basic(t.clientId, t.clientSecret) },
      payload: 'grant_type=client_credentials&scope=iam/&scope=iam/',
    });
    expect(res.json().error).toBe('invalid_request');
  });

  it('JSON instead of a form → 415 with an OAuth error body', async () => {
    const res = await env.app.inject({ method: 'POST', url: '/oauth2/token', headers: { host: t.host, 'content-type': 'application/json' }, payload: '{"grant_type":"client_credentials"}' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe('invalid_request');
  });

  it('an oversized form body → 413, never 500', async () => {
    const res = await token({ grant_type: 'client_credentials', pad: 'x'.repeat(2 * 1024 * 1024) }, { authorization: basic(t.clientId, t.clientSecret) });
    expect(res.statusCode).toBe(413);
  });

  it("another tenant's client does not authenticate here", async () => {
    const other = await env.newTenant();
    const res = await token({ grant_type: 'client_credentials' }, { authorization: basic(other.clientId, other.clientSecret) });
    expect(res.statusCode).toBe(401);
  });
});

describe('metadata', () => {
  it('RFC 8414 §3: issuer is the tenant URL and endpoints hang off it', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await env.app.inject({ url: path, headers: { host: t.host } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        issuer: `http://${t.host}`,
        token_endpoint: `http://${t.host}/oauth2/token`,
        jwks_uri: `http://${t.host}/oauth2/jwks`,
        authorization_endpoint: `http://${t.host}/oauth2/authorize`,
        introspection_endpoint: `http://${t.host}/oauth2/introspect`,
        revocation_endpoint: `http://${t.host}/oauth2/revoke`,
        userinfo_endpoint: `http://${t.host}/oauth2/userinfo`,
        end_session_endpoint: `http://${t.host}/oauth2/logout`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      });
      expect(res.json().grant_types_supported.sort()).toEqual(['authorization_code', 'client_credentials', 'refresh_token']);
      expect(res.json().token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
      expect(res.json().scopes_supported).toContain('iam/');
    }
  });

  it("each tenant has its own signing key", async () => {
    const other = await env.newTenant();
    const a = (await env.app.inject({ url: '/oauth2/jwks', headers: { host: t.host } })).json();
    const b = (await env.app.inject({ url: '/oauth2/jwks', headers: { host: other.host } })).json();
    expect(a.keys[0].kid).not.toBe(b.keys[0].kid);
    expect(a.keys[0]).not.toHaveProperty('d');
  });
});

describe('interoperability', () => {
  it('Basic credentials that were not form-encoded (curl -u, Scalar) still authenticate: a base64 secret with + / =', async () => {
    const { createClientWithSecret } = await import('../../src/downstream/service.ts');
    const { forTenant } = await import('../../src/platform/db.ts');
    const secret = 'ab+cd/ef==' + 'x'.repeat(34);
    await createClientWithSecret(forTenant(env.database.db, t.tenant.id), env.keys, { clientId: 'b64-client', clientType: 'MachineClient', displayName: 'B64', allowedScopes: ['iam/'], secret });
    const raw = 'Basic ' + Buffer.from(`b64-client:${secret}`).toString('base64');
    expect((await token({ grant_type: 'client_credentials' }, { authorization: raw })).statusCode).toBe(200);
    expect((await token({ grant_type: 'client_credentials' }, { authorization: basic('b64-client', secret) })).statusCode).toBe(200);
  });
});
