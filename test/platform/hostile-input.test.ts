/**
 * Hostile input is a 4xx, never a 500: NUL bytes and lone surrogates in any path, query, form or JSON value are
 * answered 400 at the edge, in each surface's own error format (RFC 6749 §5.2 on /oauth2, RFC 9457 on /api,
 * RFC 7644 §3.12 on /scim, an HTML page on /login); a database error is logged without its parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { basic, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { scimClient, type ScimClient } from '../scim/support.ts';

let env: TestEnv;
let t: TestTenant;
let api: Api;

beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  api = await apiFor(env, t);
});
afterAll(() => env.close());

const form = (url: string, payload: string, headers: Record<string, string> = {}) =>
  env.app.inject({ method: 'POST', url, headers: { host: t.host, 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload });

describe('/oauth2: RFC 6749 §5.2 invalid_request', () => {
  it.each([
    ['a NUL in the client_id (form)', () => form('/oauth2/token', 'grant_type=client_credentials&client_id=boot%00strap&client_secret=x')],
    ['a NUL in the client_secret (form)', () => form('/oauth2/token', `grant_type=client_credentials&client_id=${t.clientId}&client_secret=x%00y`)],
    ['a NUL in the query', () => form('/oauth2/token?x=%00', 'grant_type=client_credentials')],
    ['a NUL in a Basic client id', () => form('/oauth2/token', 'grant_type=client_credentials', { authorization: basic('boot\u0000strap', 'secret') })],
    ['a NUL in the token to introspect', () => form('/oauth2/introspect', `token=abc%00def`, { authorization: basic(t.clientId, t.clientSecret) })],
    ['a NUL in authorize parameters', () => env.app.inject({ url: '/oauth2/authorize?client_id=a%00b&response_type=code', headers: { host: t.host } })],
  ])('%s → 400', async (_name, send) => {
    const res = await send();
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('/api: RFC 9457, titled "Bad Request"', () => {
  it.each([
    ['a NUL in a path segment', () => api.call('GET', '/api/users/%00')],
    ['a NUL in a query value', () => api.call('GET', '/api/users?search=a%00b')],
    ['a NUL in a JSON string', () => api.raw('POST', '/api/users', '{"email":"a\\u0000@example.com","fullName":"x"}')],
    ['a NUL in a nested JSON key', () => api.raw('POST', '/api/users', '{"email":"a@example.com","fullName":"x","deep":[{"k\\u0000":1}]}')],
  ])('%s → 400 problem', async (_name, send) => {
    const res = await send();
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('every 400 problem is titled "Bad Request" (validation, malformed JSON)', async () => {
    for (const res of [await api.call('POST', '/api/users', { email: 'not-an-email' }), await api.raw('POST', '/api/users', '{"email":')]) {
      expect(res.statusCode).toBe(400);
      expect(res.json().title).toBe('Bad Request');
    }
  });

  it('a lone surrogate in a JSON string → 400; a valid pair (an emoji) is stored as sent', async () => {
    const lone = await api.raw('POST', '/api/users', '{"email":"lone@example.com","fullName":"Ada \\ud800"}');
    expect(lone.statusCode, lone.body).toBe(400);
    expect(lone.json()).toMatchObject({ title: 'Bad Request', detail: expect.stringContaining('/fullName') });
    const pair = await api.raw('POST', '/api/users', JSON.stringify({ email: `emoji-${Date.now()}@example.com`, fullName: 'Ada \ud83d\ude00' }));
    expect(pair.statusCode, pair.body).toBe(201);
    expect(pair.json().fullName).toBe('Ada \u{1F600}');
  });
});

describe('/scim/v2: RFC 7644 §3.12', () => {
  let client: ScimClient;
  beforeAll(async () => {
    client = await scimClient(env, t);
  });
  const scim = (method: string, url: string, payload?: unknown) => client.call(method, url, payload);

  it('a NUL in a path segment or a filter → 400 invalidValue', async () => {
    for (const res of [await scim('GET', '/scim/v2/Users/%00'), await scim('GET', '/scim/v2/Users?filter=userName%20eq%20%22a%00%22')]) {
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidValue' });
    }
  });

  it('Bulk: a malformed % escape in an operation path is a 400 for that operation', async () => {
    const res = await scim('POST', '/scim/v2/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [{ method: 'DELETE', path: '/Users/%zz' }],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().Operations[0]).toMatchObject({ status: '400', response: { status: '400', scimType: 'invalidPath' } });
  });
});

describe('/login: an HTML page', () => {
  const CSRF = 'A'.repeat(22);
  it.each([
    // With a valid CSRF pair, so that the NUL is what the request is refused for.
    ['a NUL in the login form', () => form('/login', `login=ada%00@example.com&password=x&csrf=${CSRF}`, { cookie: `iam_csrf=${CSRF}` })],
    ['a NUL in the login_hint query', () => env.app.inject({ url: '/login?login_hint=a%00b', headers: { host: t.host } })],
    ['a NUL in the upstream id path segment', () => env.app.inject({ url: '/login/upstream/Google/a%00b', headers: { host: t.host } })],
  ])('%s → 400', async (_name, send) => {
    const res = await send();
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('text/html');
  });
});

describe('a path whose % escapes do not decode: 400 in the surface of the route it names', () => {
  it.each([
    ['/api/users/%zz', 'application/problem+json', { status: 400, title: 'Bad Request', detail: 'The path has a malformed % escape.' }],
    ['/api/users/%ED%A0%80', 'application/problem+json', { status: 400, title: 'Bad Request' }],
    ['/scim/v2/Users/%zz', 'application/scim+json', { status: '400', scimType: 'invalidValue' }],
    ['/login/upstream/Google/%E0%A4%A', 'text/html', undefined],
  ])('%s', async (url, type, body) => {
    const res = await env.app.inject({ url, headers: { host: t.host, authorization: `Bearer ${api.token}` } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain(type);
    if (body) expect(res.json()).toMatchObject(body);
  });
});

describe('database errors in the log', () => {
  it('are logged without their parameters (a query error never carries the values it was given)', async () => {
    const secret = '$argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0c2FsdA$notARealHashButSecret';
    const err = await env.database.db.execute(sql`select ${secret}::int as n`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as Error).message)).toContain(secret); // drizzle puts the parameters in the message
    env.logs.length = 0;
    env.app.log.error({ err }, 'unhandled error');
    const line = env.logs.join('');
    expect(line).toContain('Failed query: select $1::int as n');
    expect(line).toContain('22P02'); // the driver's code is kept: it says what went wrong
    expect(line).not.toContain('notARealHashButSecret');
  });
});
