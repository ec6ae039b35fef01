/** Scheduled upkeep: expired rows are purged, due keys rotate; nothing live is touched. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { forTenant } from '../../src/platform/db.ts';
import { revokedTokens, signingKeys } from '../../src/db/schema/index.ts';
import { purgeExpired, rotateDueKeys } from '../../src/oauth/maintenance.global.ts';

let env: TestEnv;
let t: TestTenant;
beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  await bootstrapToken(env.app, t); // creates the tenant's keys
});
afterAll(() => env.close());

it('purges expired revocation records and keeps live ones', async () => {
  const scope = forTenant(env.database.db, t.tenant.id);
  await scope.insert(revokedTokens, [
    { jti: 'old', expiresAt: new Date(Date.now() - 1000) },
    { jti: 'live', expiresAt: new Date(Date.now() + 3_600_000) },
  ]);
  const counts = await purgeExpired(env.database.global);
  expect(counts.revokedTokens).toBeGreaterThanOrEqual(1);
  expect((await scope.select(revokedTokens)).map((r) => r.jti)).toEqual(['live']);
});

it('rotates keys that have signed for the configured number of days, and only those', async () => {
  const scope = forTenant(env.database.db, t.tenant.id);
  const [active] = await scope.select(signingKeys, eq(signingKeys.status, 'active'));
  expect(await rotateDueKeys(env.database.global, env.app.services.keys, 30)).not.toContain(`${t.tenant.id}/ES256`);
  await scope.update(signingKeys, { activatedAt: new Date(Date.now() - 31 * 86_400_000) }, eq(signingKeys.kid, active!.kid));
  expect(await rotateDueKeys(env.database.global, env.app.services.keys, 30)).toContain(`${t.tenant.id}/ES256`);
  const [retired] = await scope.select(signingKeys, eq(signingKeys.kid, active!.kid));
  expect(retired!.status).toBe('retired');
});
