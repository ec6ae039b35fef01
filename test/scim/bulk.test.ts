/** /scim/v2/Bulk: RFC 7644 §3.7 — bulkId references, failOnErrors, maxOperations and maxPayloadSize (413). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { ERROR, GROUP, scimClient, user, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
});
afterAll(() => env.close());

describe('RFC 7644 §3.7 bulk', () => {
  it('§3.7.2 bulkId: a group created before its member resolves once the member exists', async () => {
    const res = await c.call('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP], displayName: 'Bulk team', members: [{ value: 'bulkId:u1' }] } },
        { method: 'POST', path: '/Users', bulkId: 'u1', data: user('bulk1@example.com') },
        { method: 'PATCH', path: '/Users/bulkId:u1', data: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'nickName', value: 'B' }] } },
      ],
    });
    expect(res.statusCode).toBe(200);
    const ops = res.json().Operations;
    expect(res.json().schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    expect(ops.map((o: { bulkId?: string; status: string }) => [o.bulkId, o.status])).toEqual([
      ['g1', '201'],
      ['u1', '201'],
      [undefined, '200'],
    ]);
    const groupLoc = ops.find((o: { bulkId?: string }) => o.bulkId === 'g1').location as string;
    const userLoc = ops.find((o: { bulkId?: string }) => o.bulkId === 'u1').location as string;
    const g = (await c.call('GET', new URL(groupLoc).pathname)).json();
    expect(g.members.map((m: { value: string }) => m.value)).toEqual([userLoc.split('/').pop()]);
    expect((await c.call('GET', new URL(userLoc).pathname)).json().nickName).toBe('B');
  });

  it('§3.7.3 failOnErrors stops after that many errors; errors carry SCIM error bodies', async () => {
    const res = await c.call('POST', '/Bulk', {
      schemas: [BULK],
      failOnErrors: 1,
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: user('dupe@example.com') },
        { method: 'POST', path: '/Users', bulkId: 'b', data: user('DUPE@example.com') },
        { method: 'POST', path: '/Users', bulkId: 'c', data: user('never@example.com') },
      ],
    });
    const ops = res.json().Operations;
    expect(ops).toHaveLength(2);
    expect(ops[1]).toMatchObject({ bulkId: 'b', status: '409', response: { schemas: [ERROR], status: '409', scimType: 'uniqueness' } });
    expect((await c.call('GET', '/Users?filter=userName%20eq%20%22never@example.com%22')).json().totalResults).toBe(0);
  });

  it('unresolvable and circular bulkIds fail with 409; DELETE and bad paths report per operation', async () => {
    const res = await c.call('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Groups', bulkId: 'x', data: { schemas: [GROUP], displayName: 'X', members: [{ value: 'bulkId:y' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'y', data: { schemas: [GROUP], displayName: 'Y', members: [{ value: 'bulkId:x' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'z', data: { schemas: [GROUP], displayName: 'Z', members: [{ value: 'bulkId:nobody' }] } },
        { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000000' },
        { method: 'GET', path: '/Users' },
      ],
    });
    expect(res.statusCode).toBe(400);
    const res2 = await c.call('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Groups', bulkId: 'x', data: { schemas: [GROUP], displayName: 'X', members: [{ value: 'bulkId:y' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'y', data: { schemas: [GROUP], displayName: 'Y', members: [{ value: 'bulkId:x' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'z', data: { schemas: [GROUP], displayName: 'Z', members: [{ value: 'bulkId:nobody' }] } },
        { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000000' },
        { method: 'POST', path: '/Robots', bulkId: 'r', data: {} },
      ],
    });
    const statuses = Object.fromEntries(res2.json().Operations.map((o: { bulkId?: string; method: string; status: string }) => [o.bulkId ?? o.method, o.status]));
    expect(statuses).toEqual({ x: '409', y: '409', z: '409', DELETE: '404', r: '400' });
  });

  it('§3.7.4 more than maxOperations, or a body over maxPayloadSize, is 413', async () => {
    const many = await c.call('POST', '/Bulk', { schemas: [BULK], Operations: Array.from({ length: 1001 }, (_, i) => ({ method: 'DELETE', path: `/Users/${i}` })) });
    expect(many.statusCode).toBe(413);
    expect(many.json()).toMatchObject({ schemas: [ERROR], status: '413' });
    const big = await c.call('POST', '/Bulk', { schemas: [BULK], Operations: [{ method: 'POST', path: '/Users', bulkId: 'a', data: user('a', { nickName: 'x'.repeat(1_100_000) }) }] });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ schemas: [ERROR], status: '413' });
  });

  it('needs scim.write', async () => {
    const res = await c.call('POST', '/Bulk', { schemas: [BULK], Operations: [] }, { authorization: `Bearer ${c.readOnly}` });
    expect(res.statusCode).toBe(403);
  });
});
