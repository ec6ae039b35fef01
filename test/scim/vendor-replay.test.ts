/**
 * Replays of the request sequences Microsoft Entra ID and Okta document, with their request bodies exactly as
 * published (test/scim/fixtures/*.json, each with its source URL). Only ids are substituted: the documents' example
 * ids are mapped to the ids this server assigned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { testEnv, type TestEnv } from '../support/app.ts';
import { directoryScimClient, ENTERPRISE, scimClient, user, type ScimClient } from './support.ts';

interface Step {
  name: string;
  source: string;
  method: string;
  path: string;
  body?: unknown;
  expect: number;
  totalResults?: number;
}

const load = (file: string): Step[] => JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv();
});
afterAll(() => env.close());

async function replay(c: ScimClient, steps: Step[], ids: Map<string, string>, after: Record<string, (res: { json(): any; body: string; statusCode: number; headers: Record<string, unknown> }) => void | Promise<void>> = {}) {
  const sub = (s: string) => [...ids].reduce((acc, [from, to]) => acc.split(from).join(to), s);
  for (const step of steps) {
    const body = step.body === undefined ? undefined : sub(JSON.stringify(step.body));
    const res = await c.call(step.method, sub(step.path).replace(/ /g, '%20'), body);
    expect(res.statusCode, `${step.name}: ${res.body}`).toBe(step.expect);
    if (step.expect < 300 && step.expect !== 204) expect(res.headers['content-type'], step.name).toMatch(/^application\/scim\+json/);
    if (step.totalResults !== undefined) expect(res.json().totalResults, step.name).toBe(step.totalResults);
    if (step.method === 'POST' && step.path === '/Users' && !ids.has('{user}')) ids.set('{user}', res.json().id);
    if (step.method === 'POST' && step.path === '/Groups' && !ids.has('{group}')) ids.set('{group}', res.json().id);
    await after[step.name]?.(res);
  }
}

// Both surfaces: the tenant-wide endpoint with OAuth access tokens, and a directory's own base URL with its token.
describe.each([
  ['tenant-wide /scim/v2', scimClient],
  ["a directory's own base URL, with a directory token", directoryScimClient],
] as const)('%s', (_surface, makeClient: (env: TestEnv) => Promise<ScimClient>) => {
  describe('Microsoft Entra ID: "Develop and plan provisioning for a SCIM endpoint" and "Known issues … SCIM 2.0 protocol compliance"', () => {
    it('replays every documented request in order', async () => {
      const c = await makeClient(env);
      const ids = new Map<string, string>();
      await replay(c, load('entra-id.json'), ids, {
        'Create User': (res) => {
          // Doc ids of users in member values map to this user.
          ids.set('f648f8d5ea4e4cd38e9c', res.json().id);
          ids.set('7f4bc1a3-285e-48ae-8202-5accb43efb0e', res.json().id);
          expect(res.json()).toMatchObject({ active: true, emails: [{ primary: true, type: 'work', value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com' }], name: { formatted: 'givenName familyName' } });
          expect(res.json().roles).toBeUndefined();
        },
        'Update User [Multi-valued properties]': (res) => {
          expect(res.json()).toMatchObject({ emails: [{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }], name: { familyName: 'updatedFamilyName', givenName: 'givenName' } });
        },
        'Replace multiple attributes (with feature flag)': (res) => {
          expect(res.json()).toMatchObject({
            displayName: 'Bjfe',
            name: { givenName: 'Kkom', familyName: 'Unua' },
            externalId: 'Eqpj',
            emails: [{ value: 'TestMhvaes@test.microsoft.com', type: 'work' }],
            [ENTERPRISE]: { employeeNumber: 'Aklq' },
          });
        },
        'Update manager (Example 5)': (res) => {
          expect(res.json()[ENTERPRISE].manager).toEqual({ value: '00aa00aa-bb11-cc22-dd33-44ee44ee44ee', $ref: 'http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee' });
        },
        'Disable User (without feature flag)': (res) => expect(res.json().active).toBe(false),
        'Provision a user (Example 2)': (res) => expect(res.json()).toMatchObject({ userName: 'jyoung@testuser.com', displayName: 'Joy Young', emails: [{ value: 'jyoung@Contoso.com' }] }),
        'Get Group': (res) => expect(res.json().members).toBeUndefined(),
        'Update Group [Add Members]': async () => {
          const g = await c.call('GET', `/Groups/${ids.get('{group}')}`);
          expect(g.json().members.map((m: { value: string }) => m.value)).toEqual([ids.get('{user}')]);
        },
        'Remove a group member (with feature flag)': async () => {
          // RFC 7643 §2.5: the last member gone, `members` is unassigned and left out.
          expect((await c.call('GET', `/Groups/${ids.get('{group}')}`)).json().members).toBeUndefined();
        },
      });
    });

    it('Entra ID also sets a manager by a plain string (enterprise manager as string)', async () => {
      const c = await makeClient(env);
      const id = (await c.call('POST', '/Users', user('mgr@example.com'))).json().id;
      const res = await c.call('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: `${ENTERPRISE}:manager`, value: 'boss-id' }] });
      expect(res.json()[ENTERPRISE]).toEqual({ manager: { value: 'boss-id' } });
    });
  });

  describe('Okta: "SCIM 2.0 Protocol Reference"', () => {
    it('replays every documented request in order', async () => {
      const c = await makeClient(env);
      const other = (await c.call('POST', '/Users', user('other.user@okta.local'))).json().id;
      const ids = new Map<string, string>([['89bb1940-b905-4575-9e7f-6f887cfb368e', other]]);
      await replay(c, load('okta.json'), ids, {
        'Create the User': (res) => {
          ids.set('23a35c27-23d3-4c03-b4c5-6443c09e7173', res.json().id);
          expect(res.json()).toMatchObject({ userName: 'test.user@okta.local', locale: 'en-US', externalId: '00ujl29u0le5T6Aj10h7', active: true });
          expect(res.body).not.toContain('1mz050nq');
        },
        'Create the User again (conflict)': (res) => expect(res.json()).toMatchObject({ status: '409', scimType: 'uniqueness' }),
        'Retrieve Users': (res) => expect(res.json()).toMatchObject({ totalResults: 2, startIndex: 1, itemsPerPage: 2 }),
        'Update the User (PUT)': (res) => expect(res.json().name).toEqual({ givenName: 'Another', middleName: 'Excited', familyName: 'User' }),
        'Deactivate the User (PATCH)': (res) => expect(res.json().active).toBe(false),
        'Create Groups': (res) => {
          ids.set('abf4dd94-a4c0-4f67-89c9-76b03340cb9b', res.json().id);
          // Okta's example shows `"members": []`; RFC 7643 §2.5 leaves an empty multi-valued attribute out.
          expect(res.json()).toMatchObject({ displayName: 'Test SCIMv2' });
          expect(res.json().members).toBeUndefined();
        },
        'Update specific Group membership': async () => {
          const g = (await c.call('GET', `/Groups/${ids.get('abf4dd94-a4c0-4f67-89c9-76b03340cb9b')}`)).json();
          expect(g.members.map((m: { value: string }) => m.value)).toEqual([ids.get('23a35c27-23d3-4c03-b4c5-6443c09e7173')]);
        },
        'Full push of the membership (replace)': async () => {
          const g = (await c.call('GET', `/Groups/${ids.get('abf4dd94-a4c0-4f67-89c9-76b03340cb9b')}`)).json();
          expect(g.members).toHaveLength(2);
        },
      });
    });
  });
});
