/**
 * Organization domains: the TXT challenge, "verify now", the re-check job with backoff and its window, manual
 * verification, one owner per verified domain. DNS answers come from a loopback server (test/support/dns-server.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { apiFor, type Api } from '../support/api.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { forTenant } from '../../src/platform/db.ts';
import { recheckDueDomains } from '../../src/organizations/domain-verification.global.ts';
import { DOMAIN_VERIFICATION_WINDOW_MS, organizationForVerifiedDomain } from '../../src/organizations/domains.ts';

let env: TestEnv;
let api: Api;
let other: Api;
let dns: TestDnsServer;

beforeAll(async () => {
  dns = await startDnsServer();
  env = await testEnv({ DNS_SERVERS: `127.0.0.1:${dns.port}` });
  api = await apiFor(env, await env.newTenant());
  other = await apiFor(env, await env.newTenant());
});
afterAll(async () => {
  await env.close();
  await dns.close();
});

interface WireDomain {
  id: string;
  organizationId: string;
  domain: string;
  status: string;
  verificationMethod: string | null;
  txtRecord: { type: string; name: string; value: string };
  attempts: number;
  lastError: string | null;
  nextCheckAt: string | null;
  expiresAt: string;
  createdAt: string;
}

const uid = () => Math.random().toString(36).slice(2, 10);
const newOrg = async (a: Api = api) => (await a.call('POST', '/api/organizations', { displayName: 'Org' })).json().id as string;

async function addDomain(org: string, domain = `d-${uid()}.example.com`, a: Api = api): Promise<WireDomain> {
  const res = await a.call('POST', `/api/organizations/${org}/domains`, { domain });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}
const getDomain = async (d: WireDomain, a: Api = api): Promise<WireDomain> => (await a.call('GET', `/api/organizations/${d.organizationId}/domains/${d.id}`)).json();
const publish = (d: WireDomain, ...values: string[]) => dns.txt.set(d.txtRecord.name, values);
const job = (now: Date) => recheckDueDomains({ db: env.database.global, resolver: dns.resolver(), now });
const auditActions = async (org: string) =>
  (await api.call('GET', `/api/audit?targetType=organization&targetId=${org}`)).json().items as { action: string; actor: { type: string; id: string }; after: Record<string, unknown> | null }[];

describe('adding a domain', () => {
  it('shows the TXT record to publish; the domain is stored canonical and pending', async () => {
    const org = await newOrg();
    const res = await api.call('POST', `/api/organizations/${org}/domains`, { domain: `Bücher-${uid()}.DE.` });
    expect(res.statusCode, res.body).toBe(201);
    const d: WireDomain = res.json();
    expect(res.headers.location).toBe(`/api/organizations/${org}/domains/${d.id}`);
    expect(d.domain).toMatch(/^xn--bcher-.*\.de$/);
    expect(d).toMatchObject({ status: 'pending', verificationMethod: null, attempts: 0, lastError: null });
    expect(d.txtRecord).toEqual({ type: 'TXT', name: `_iam-challenge.${d.domain}`, value: expect.stringMatching(/^iam-domain-verification=[A-Za-z0-9_-]{43}$/) });
    expect(Date.parse(d.expiresAt) - Date.parse(d.createdAt)).toBe(DOMAIN_VERIFICATION_WINDOW_MS);
    expect(Date.parse(d.nextCheckAt!) - Date.parse(d.createdAt)).toBe(60_000);
    expect((await api.call('GET', `/api/organizations/${org}/domains`)).json().items.map((x: WireDomain) => x.id)).toEqual([d.id]);
    expect((await auditActions(org))[0]).toMatchObject({ action: 'organization.domain.add', after: { domain: d.domain, status: 'pending' } });
  });

  it('refuses IPs, public suffixes and malformed names (400), and the same domain twice in one organization (409)', async () => {
    const org = await newOrg();
    for (const domain of ['com', 'co.uk', '10.0.0.1', 'https://acme.com', 'a..b']) {
      const res = await api.call('POST', `/api/organizations/${org}/domains`, { domain });
      expect(res.statusCode, domain).toBe(400);
      expect(res.json().field).toBe('domain');
    }
    const d = await addDomain(org);
    expect((await api.call('POST', `/api/organizations/${org}/domains`, { domain: d.domain.toUpperCase() })).statusCode).toBe(409);
    expect((await api.call('POST', `/api/organizations/${crypto.randomUUID()}/domains`, { domain: 'x.example.com' })).statusCode).toBe(404);
  });
});

describe('verify now', () => {
  it('verifies the domain once the TXT record is published', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    const early = await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`);
    expect(early.statusCode, early.body).toBe(200);
    expect(early.json()).toMatchObject({ status: 'pending', attempts: 1, lastError: `No TXT record at ${d.txtRecord.name}.` });

    publish(d, 'v=spf1 -all', d.txtRecord.value);
    const res = await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'verified', verificationMethod: 'dns', lastError: null, nextCheckAt: null });
    expect(dns.queries).toContain(d.txtRecord.name);
    expect(await organizationForVerifiedDomain(forTenant(env.database.db, api.tenant.tenant.id), `someone@${d.domain.toUpperCase()}`)).toEqual({ organizationId: org, domain: d.domain });
    const [verified] = await auditActions(org);
    expect(verified).toMatchObject({ action: 'organization.domain.verify', after: { status: 'verified', verificationMethod: 'dns' } });
    // Verifying again changes nothing.
    expect((await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`)).json().status).toBe('verified');
  });

  it('a wrong TXT value keeps the domain pending and says why; a DNS failure is reported as retryable', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    publish(d, 'iam-domain-verification=not-the-token');
    const res = (await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`)).json();
    expect(res).toMatchObject({ status: 'pending', lastError: `The TXT records at ${d.txtRecord.name} do not include the expected value.` });
    dns.servfail.add(d.txtRecord.name);
    const failed = (await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`)).json();
    expect(failed.status).toBe('pending');
    expect(failed.lastError).toMatch(/failed \(ESERVFAIL\); it will be tried again/);
    dns.servfail.delete(d.txtRecord.name);
    expect(await organizationForVerifiedDomain(forTenant(env.database.db, api.tenant.tenant.id), d.domain)).toBeUndefined();
  });
});

describe('the re-check job', () => {
  it('verifies a pending domain once its record appears, acting as the system', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    const t0 = Date.parse(d.createdAt);
    // Not due yet: the first check is a minute after the domain was added.
    await job(new Date(t0 + 30_000));
    expect((await getDomain(d)).attempts).toBe(0);
    publish(d, d.txtRecord.value);
    await job(new Date(t0 + 61_000));
    expect(await getDomain(d)).toMatchObject({ status: 'verified', verificationMethod: 'dns', attempts: 1 });
    expect((await auditActions(org))[0]).toMatchObject({ action: 'organization.domain.verify', actor: { type: 'system', id: 'organization-domain-verification' } });
  });

  it('wrong TXT: stays pending with growing backoff, then fails when the window ends', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    publish(d, 'iam-domain-verification=wrong');
    const t0 = Date.parse(d.createdAt);
    let now = t0 + 60_000;
    const gaps: number[] = [];
    for (let i = 0; i < 8; i++) {
      await job(new Date(now));
      const after = await getDomain(d);
      expect(after.status).toBe('pending');
      expect(after.attempts).toBe(i + 1);
      const next = Date.parse(after.nextCheckAt!);
      gaps.push((next - now) / 60_000);
      now = next;
    }
    expect(gaps).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    expect((await getDomain(d)).lastError).toMatch(/do not include the expected value/);

    // Past the window: the last check fails the domain for good.
    await job(new Date(t0 + DOMAIN_VERIFICATION_WINDOW_MS + 1_000));
    const failed = await getDomain(d);
    expect(failed).toMatchObject({ status: 'failed', nextCheckAt: null, attempts: 9 });
    const [entry] = await auditActions(org);
    expect(entry).toMatchObject({ action: 'organization.domain.fail', actor: { type: 'system' }, after: { status: 'failed' } });
    // A failed domain is no longer checked, and "verify now" says to add it again.
    publish(d, d.txtRecord.value);
    await job(new Date(t0 + DOMAIN_VERIFICATION_WINDOW_MS + 3_600_000));
    expect((await getDomain(d)).status).toBe('failed');
    const again = await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ status: 409, domainStatus: 'failed' });
    expect(await organizationForVerifiedDomain(forTenant(env.database.db, api.tenant.tenant.id), d.domain)).toBeUndefined();
  });

  it('the last check before the window ends is scheduled at its end, not after it', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    const expires = Date.parse(d.expiresAt);
    await job(new Date(expires - 30_000));
    expect(Date.parse((await getDomain(d)).nextCheckAt!)).toBe(expires);
  });
});

describe('one owner per verified domain', () => {
  it('a domain verified by one organization cannot be added, proven or marked verified by another (409)', async () => {
    const [first, second] = [await newOrg(), await newOrg()];
    const domain = `shared-${uid()}.example.com`;
    const mine = await addDomain(first, domain);
    const theirs = await addDomain(second, domain); // pending claims may coexist
    expect((await api.call('POST', `/api/organizations/${first}/domains/${mine.id}/mark-verified`)).statusCode).toBe(200);

    expect((await api.call('POST', `/api/organizations/${await newOrg()}/domains`, { domain })).statusCode).toBe(409);
    const marked = await api.call('POST', `/api/organizations/${second}/domains/${theirs.id}/mark-verified`);
    expect(marked.statusCode).toBe(409);
    publish(theirs, theirs.txtRecord.value);
    expect((await api.call('POST', `/api/organizations/${second}/domains/${theirs.id}/verify`)).statusCode).toBe(409);
    // The job leaves the other claim pending, saying why.
    await job(new Date(Date.parse(theirs.createdAt) + 61_000));
    expect(await getDomain(theirs)).toMatchObject({ status: 'pending', lastError: 'This domain is verified by another organization in this tenant.' });

    // Another tenant is unaffected.
    const foreign = await addDomain(await newOrg(other), domain, other);
    expect((await other.call('POST', `/api/organizations/${foreign.organizationId}/domains/${foreign.id}/mark-verified`)).statusCode).toBe(200);

    // Released by deleting the verified domain, the other organization can prove it.
    expect((await api.call('DELETE', `/api/organizations/${first}/domains/${mine.id}`)).statusCode).toBe(204);
    expect((await api.call('POST', `/api/organizations/${second}/domains/${theirs.id}/verify`)).json().status).toBe('verified');
    expect(await organizationForVerifiedDomain(forTenant(env.database.db, api.tenant.tenant.id), domain)).toEqual({ organizationId: second, domain });
    expect(await organizationForVerifiedDomain(forTenant(env.database.db, other.tenant.tenant.id), domain)).toEqual({ organizationId: foreign.organizationId, domain });
  });
});

describe('manual verification', () => {
  it('an admin marks a pending domain verified; it is audited with the admin as actor', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    const res = await api.call('POST', `/api/organizations/${org}/domains/${d.id}/mark-verified`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'verified', verificationMethod: 'manual', nextCheckAt: null });
    const [entry] = await auditActions(org);
    expect(entry).toMatchObject({
      action: 'organization.domain.verify',
      actor: { type: 'client', id: api.tenant.clientId },
      after: { domain: d.domain, status: 'verified', verificationMethod: 'manual' },
    });
    // The job does not touch it again.
    await job(new Date(Date.parse(d.createdAt) + 61_000));
    expect((await getDomain(d)).attempts).toBe(0);
  });

  it('a domain is addressed only under its own organization (404 under another of the same tenant)', async () => {
    const [mine, another] = [await newOrg(), await newOrg()];
    const d = await addDomain(mine);
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/verify'], ['POST', '/mark-verified']] as const) {
      expect((await api.call(method, `/api/organizations/${another}/domains/${d.id}${suffix}`)).statusCode, `${method} ${suffix}`).toBe(404);
    }
    expect(await getDomain(d)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('deleting a domain is audited, and it then is 404', async () => {
    const org = await newOrg();
    const d = await addDomain(org);
    expect((await api.call('DELETE', `/api/organizations/${org}/domains/${d.id}`)).statusCode).toBe(204);
    expect((await api.call('GET', `/api/organizations/${org}/domains/${d.id}`)).statusCode).toBe(404);
    expect((await api.call('POST', `/api/organizations/${org}/domains/${d.id}/verify`)).statusCode).toBe(404);
    expect((await auditActions(org))[0]!.action).toBe('organization.domain.delete');
  });
});
