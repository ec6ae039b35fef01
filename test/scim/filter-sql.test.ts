/** RFC 7644 §3.4.2.2 filters compiled to SQL, §3.4.2.3 sorting, §3.4.2.4 paging, §3.4.3 .search; hostile filters. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { ENTERPRISE, ERROR, GROUP, scimClient, user, type ScimClient } from './support.ts';

let env: TestEnv;
let c: ScimClient;
const ids: Record<string, string> = {};
let groupId: string;

const people = [
  { userName: 'alice', externalId: 'EXT-A', displayName: 'Alice Archer', active: true, name: { givenName: 'Alice', familyName: 'Archer' }, emails: [{ value: 'alice@corp.example', type: 'work', primary: true }, { value: 'alice@home.example', type: 'home' }], [ENTERPRISE]: { department: 'Sales', employeeNumber: '001', manager: { value: 'm-1' } } },
  { userName: 'Bob', externalId: 'ext-b', displayName: 'Bob Baker', active: false, name: { givenName: 'Bob', familyName: 'Baker' }, emails: [{ value: 'BOB@CORP.EXAMPLE', type: 'work' }], [ENTERPRISE]: { department: 'Engineering' } },
  { userName: 'carol', displayName: 'Carol Cooper', active: true, name: { givenName: 'Carol', familyName: 'Cooper' }, emails: [{ value: 'carol@other.example', type: 'work' }], title: 'CTO' },
  { userName: 'dave', active: true, emails: [{ value: 'dave@corp.example', type: 'home' }], [ENTERPRISE]: { department: 'sales' } },
  { userName: "eve' or 1=1 --", active: true },
];

beforeAll(async () => {
  env = await testEnv();
  c = await scimClient(env);
  for (const p of people) {
    const res = await c.call('POST', '/Users', user(p.userName, p));
    if (res.statusCode !== 201) throw new Error(res.body);
    ids[p.userName] = res.json().id;
  }
  groupId = (await c.call('POST', '/Groups', { schemas: [GROUP], displayName: 'Admins', members: [{ value: ids.alice }, { value: ids.carol }] })).json().id;
});
afterAll(() => env.close());

async function names(filter: string, extra = ''): Promise<string[]> {
  const res = await c.call('GET', `/Users?filter=${encodeURIComponent(filter)}${extra}`);
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json().Resources.map((r: { userName: string }) => r.userName).sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase()));
}

async function fails(filter: string, scimType = 'invalidFilter') {
  const res = await c.call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
  expect(res.statusCode, filter).toBe(400);
  expect(res.json(), filter).toMatchObject({ schemas: [ERROR], status: '400', scimType });
}

describe('RFC 7644 §3.4.2.2 operators', () => {
  it('eq ne co sw ew pr gt ge lt le on a case-insensitive string (userName)', async () => {
    expect(await names('userName eq "ALICE"')).toEqual(['alice']);
    expect(await names('userName ne "alice"')).toEqual(['Bob', 'carol', 'dave', "eve' or 1=1 --"]);
    expect(await names('userName co "AR"')).toEqual(['carol']);
    expect(await names('userName sw "b"')).toEqual(['Bob']);
    expect(await names('userName ew "VE"')).toEqual(['dave']);
    expect(await names('title pr')).toEqual(['carol']);
    expect(await names('userName gt "c"')).toEqual(['carol', 'dave', "eve' or 1=1 --"]);
    expect(await names('userName ge "carol"')).toEqual(['carol', 'dave', "eve' or 1=1 --"]);
    expect(await names('userName lt "bob"')).toEqual(['alice']);
    expect(await names('userName le "bob"')).toEqual(['alice', 'Bob']);
  });

  it('caseExact per attribute: externalId is case-exact, displayName is not', async () => {
    expect(await names('externalId eq "EXT-A"')).toEqual(['alice']);
    expect(await names('externalId eq "ext-a"')).toEqual([]);
    expect(await names('displayName eq "alice archer"')).toEqual(['alice']);
  });

  it('and / or / not / parentheses with precedence', async () => {
    expect(await names('active eq true and (userName sw "a" or userName sw "c")')).toEqual(['alice', 'carol']);
    expect(await names('userName sw "a" or userName sw "c" and active eq false')).toEqual(['alice']);
    expect(await names('not (active eq true)')).toEqual(['Bob']);
    expect(await names('not (title pr) and not (userName eq "bob")')).toEqual(['alice', 'dave', "eve' or 1=1 --"]);
  });

  it('booleans: eq/ne only; "True" accepted; gt on a boolean is invalidFilter', async () => {
    expect(await names('active eq false')).toEqual(['Bob']);
    expect(await names('active ne true')).toEqual(['Bob']);
    await fails('active gt true');
  });

  it('complex attribute filters, sub-attributes, multi-valued values', async () => {
    expect(await names('emails[type eq "work" and value co "@corp.example"]')).toEqual(['alice', 'Bob']);
    expect(await names('emails[type eq "work" and value ew "@CORP.example"]')).toEqual(['alice', 'Bob']);
    expect(await names('emails.value ew "@corp.example"')).toEqual(['alice', 'Bob', 'dave']);
    expect(await names('emails co "home"')).toEqual(['alice']);
    expect(await names('emails[not (type eq "work")]')).toEqual(['alice', 'dave']);
    expect(await names('name.familyName sw "ba"')).toEqual(['Bob']);
    expect(await names('emails pr')).toEqual(['alice', 'Bob', 'carol', 'dave']);
  });

  it('totalResults counts users, not matching email values (alice has two matching emails)', async () => {
    for (const f of ['emails.value ew ".example"', 'emails[value co "example"]', 'emails co "@"']) {
      const res = (await c.call('GET', `/Users?count=1&filter=${encodeURIComponent(f)}`)).json();
      expect(res.totalResults, f).toBe(4);
      expect(res.Resources, f).toHaveLength(1);
    }
    expect((await c.call('GET', `/Users?count=0&filter=${encodeURIComponent('emails.value ne "alice@corp.example"')}`)).json().totalResults).toBe(4);
  });

  it('Entra ID deviation: emails[type eq "work"].value eq "…"', async () => {
    expect(await names('emails[type eq "work"].value eq "bob@corp.example"')).toEqual(['Bob']);
    expect(await names('userName eq "x" or emails[type eq "work"].value eq "carol@other.example"')).toEqual(['carol']);
  });

  it('schema-qualified enterprise paths, manager as value', async () => {
    expect(await names(`${ENTERPRISE}:department eq "sales"`)).toEqual(['alice', 'dave']);
    expect(await names('department eq "engineering"')).toEqual(['Bob']);
    expect(await names(`${ENTERPRISE}:manager.value eq "m-1"`)).toEqual(['alice']);
    expect(await names(`${ENTERPRISE}:manager eq "m-1"`)).toEqual(['alice']);
    expect(await names(`${ENTERPRISE}:employeeNumber pr`)).toEqual(['alice']);
  });

  it('dates: meta.created / meta.lastModified compare as instants; a bad date is invalidFilter', async () => {
    expect((await names('meta.created gt "2000-01-01T00:00:00Z"')).length).toBe(5);
    expect(await names('meta.lastModified lt "2000-01-01T00:00:00Z"')).toEqual([]);
    await fails('meta.created gt "yesterday"');
  });

  it('ids, groups and meta.resourceType', async () => {
    expect(await names(`id eq "${ids.carol}"`)).toEqual(['carol']);
    expect(await names('id eq "not-a-uuid"')).toEqual([]);
    expect(await names(`groups.value eq "${groupId}"`)).toEqual(['alice', 'carol']);
    expect(await names('groups[display eq "admins"]')).toEqual(['alice', 'carol']);
    expect((await names('meta.resourceType eq "User"')).length).toBe(5);
  });

  it('invalid filters are 400 invalidFilter: syntax, unknown attributes, write-only attributes', async () => {
    await fails('userName eq');
    await fails('userName xx "a"');
    await fails('shoeSize eq 42');
    await fails('password eq "x"');
    await fails('emails[type eq "work"');
    await fails('name eq "x"');
  });
});

describe('hostile filters', () => {
  it('injection attempts are values, never SQL', async () => {
    expect(await names(`userName eq "eve' or 1=1 --"`)).toEqual(["eve' or 1=1 --"]);
    expect(await names('userName eq "x\\" or \\"1\\"=\\"1"')).toEqual([]);
    expect(await names(`userName eq "'; drop table users; --"`)).toEqual([]);
    expect(await names('userName co "%"')).toEqual([]);
    expect(await names('userName sw "_"')).toEqual([]);
    expect(await names('userName co "\\\\"')).toEqual([]);
    expect((await c.call('GET', '/Users?count=1')).json().totalResults).toBe(5);
  });

  it('deeply nested filters: past the depth limit is 400, within it works; a long filter is 400', async () => {
    await fails(`${'('.repeat(60)}userName pr${')'.repeat(60)}`);
    await fails(`${'not ('.repeat(60)}userName pr${')'.repeat(60)}`);
    expect(await names(`${'not (not ('.repeat(20)}userName eq "alice"${'))'.repeat(20)}`)).toEqual(['alice']);
    await fails(`userName eq "${'a'.repeat(5000)}"`);
    const wide = Array.from({ length: 150 }, (_, i) => `userName eq "u${i}"`).join(' or ');
    expect(await names(wide)).toEqual([]);
  });

  it('a repeated filter parameter is 400, not 500', async () => {
    const res = await c.call('GET', '/Users?filter=userName%20pr&filter=userName%20pr');
    expect(res.statusCode).toBe(400);
  });
});

describe('RFC 7644 §3.4.2.3 sorting, §3.4.2.4 paging, §3.4.3 .search', () => {
  it('sortBy / sortOrder', async () => {
    const asc = (await c.call('GET', '/Users?sortBy=userName')).json().Resources.map((r: { userName: string }) => r.userName);
    expect(asc).toEqual(['alice', 'Bob', 'carol', 'dave', "eve' or 1=1 --"]);
    const desc = (await c.call('GET', '/Users?sortBy=name.givenName&sortOrder=descending&filter=name.givenName%20pr')).json().Resources.map((r: { userName: string }) => r.userName);
    expect(desc).toEqual(['carol', 'Bob', 'alice']);
    expect((await c.call('GET', '/Users?sortBy=emails')).statusCode).toBe(200);
    expect((await c.call('GET', '/Users?sortBy=userName&sortOrder=sideways')).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
  });

  it('startIndex / count; count=0 gives totalResults only; past maxResults is 400 tooMany', async () => {
    const page = (await c.call('GET', '/Users?sortBy=userName&startIndex=2&count=2')).json();
    expect(page).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    expect(page.Resources.map((r: { userName: string }) => r.userName)).toEqual(['Bob', 'carol']);
    const zero = (await c.call('GET', '/Users?count=0')).json();
    expect(zero).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
    expect((await c.call('GET', '/Users?startIndex=0&count=-4')).json()).toMatchObject({ startIndex: 1, itemsPerPage: 0 });
    expect((await c.call('GET', '/Users?count=1001')).json()).toMatchObject({ status: '400', scimType: 'tooMany' });
    expect((await c.call('GET', '/Users?count=ten')).json()).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect((await c.call('GET', '/Users?startIndex=99')).json()).toMatchObject({ totalResults: 5, Resources: [] });
  });

  it('POST /Users/.search with a SearchRequest, attribute lists as arrays', async () => {
    const res = await c.call('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "a"', attributes: ['userName'], startIndex: 1, count: 10 });
    expect(res.statusCode).toBe(200);
    expect(res.json().Resources).toEqual([{ schemas: expect.any(Array), id: ids.alice, userName: 'alice' }]);
    expect((await c.call('POST', '/Users/.search', { filter: 42 })).json()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    expect((await c.call('POST', '/Users/.search', { nope: 1 })).json()).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
  });
});
