/** The daily `upstream-secret-expiry` job, called directly (pg-boss only schedules it in the running service). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testEnv, type TestEnv } from '../support/app.ts';
import { checkUpstreamSecretExpiry } from '../../src/upstream/expiry.global.ts';
import { apiFor, type Api } from '../support/api.ts';

let env: TestEnv;
let api: Api;

beforeAll(async () => {
  env = await testEnv();
  api = await apiFor(env, await env.newTenant());
});
afterAll(() => env.close());

it('logs one warning per provider whose secret expires within 30 days (or has expired), across tenants, without the secret', async () => {
  const now = new Date();
  const days = (n: number) => new Date(now.getTime() + n * 86_400_000).toISOString();
  const secret = 'expiring-Secret-Value-9f8e';
  const put = (id: string, expiresAt: string | null) =>
    api.call('PUT', `/api/upstream/AzureAd/${id}`, {
      displayName: id,
      clientId: '11111111-2222-3333-4444-555555555555',
      clientSecret: secret,
      tenantId: 'organizations',
      clientSecretExpiresAt: expiresAt,
    });
  await put('in-ten-days', days(10.5));
  await put('expired', days(-3));
  await put('in-sixty-days', days(60));
  await put('no-expiry', null);
  const other = await apiFor(env, await env.newTenant());
  await other.call('PUT', '/api/upstream/AzureAd/elsewhere', {
    displayName: 'B',
    clientId: '11111111-2222-3333-4444-555555555555',
    clientSecret: secret,
    tenantId: 'organizations',
    clientSecretExpiresAt: days(1),
  });

  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const found = await checkUpstreamSecretExpiry({ db: env.database.global, log: { warn: (obj, msg) => lines.push({ obj, msg }) }, now });

  const mine = found.filter((f) => f.tenantId === api.tenant.tenant.id || f.tenantId === other.tenant.tenant.id);
  expect(mine.map((f) => [f.tenant, f.id, f.daysLeft])).toEqual([
    [api.tenant.tenant.slug, 'expired', -3],
    [other.tenant.tenant.slug, 'elsewhere', 1],
    [api.tenant.tenant.slug, 'in-ten-days', 10],
  ]);
  const warned = lines.filter((l) => l.obj.tenant === api.tenant.tenant.slug);
  expect(warned).toEqual([
    { obj: expect.objectContaining({ job: 'upstream-secret-expiry', providerType: 'AzureAd', providerId: 'expired', daysLeft: -3 }), msg: 'upstream client secret has expired' },
    { obj: expect.objectContaining({ providerId: 'in-ten-days', daysLeft: 10 }), msg: 'upstream client secret expires soon' },
  ]);
  expect(JSON.stringify(lines)).not.toContain(secret);
});
