/** Scheduled upkeep: expired rows are purged, due keys rotate; nothing live is touched, in any tenant. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import { bootstrapToken, testEnv, type TestEnv, type TestTenant } from '../support/app.ts';
import { forTenant, type TenantScope } from '../../src/platform/db.ts';
import { authorizationCodes, rateLimitCounters, refreshTokens, revokedTokens, sessions, signingKeys, usedAssertions } from '../../src/db/schema/index.ts';
import { purgeExpired, rotateDueKeys } from '../../src/oauth/maintenance.global.ts';

let env: TestEnv;
let t: TestTenant;
let scope: TenantScope;
beforeAll(async () => {
  env = await testEnv();
  t = await env.newTenant();
  scope = forTenant(env.database.db, t.tenant.id);
  await bootstrapToken(env.app, t); // creates the tenant's keys
});
afterAll(() => env.close());

const ago = (ms: number) => new Date(Date.now() - ms);
const ahead = (ms: number) => new Date(Date.now() + ms);
const HOUR = 3_600_000;
const DAY = 86_400_000;
const bytes = () => randomBytes(32);

describe('purgeExpired: every delete, and only what has expired', () => {
  it('revocation records: gone once the token they name has expired', async () => {
    await scope.insert(revokedTokens, [
      { jti: 'old', expiresAt: ago(1000) },
      { jti: 'live', expiresAt: ahead(HOUR) },
    ]);
    const counts = await purgeExpired(env.database.global);
    expect(counts.revokedTokens).toBeGreaterThanOrEqual(1);
    expect((await scope.select(revokedTokens)).map((r) => r.jti)).toEqual(['live']);
  });

  it('authorization codes: a day after they expired', async () => {
    const userId = randomUUID();
    const code = (expiresAt: Date) => ({ codeHash: bytes(), clientId: 'c', userId, redirectUri: 'https://a/cb', scopes: ['openid'], authTime: new Date(), expiresAt });
    await scope.insert(authorizationCodes, [code(ago(2 * DAY)), code(ago(HOUR)), code(ahead(60_000))]);
    await purgeExpired(env.database.global);
    expect(await scope.count(authorizationCodes, eq(authorizationCodes.userId, userId))).toBe(2);
  });

  it('refresh tokens: a day after they expired', async () => {
    const userId = randomUUID();
    const rt = (expiresAt: Date) => ({ tokenHash: bytes(), familyId: randomUUID(), clientId: 'c', userId, scopes: ['openid'], authTime: new Date(), expiresAt });
    await scope.insert(refreshTokens, [rt(ago(2 * DAY)), rt(ago(HOUR)), rt(ahead(DAY))]);
    await purgeExpired(env.database.global);
    expect(await scope.count(refreshTokens, eq(refreshTokens.userId, userId))).toBe(2);
  });

  it('sessions: a day after they expired or ended', async () => {
    const userId = randomUUID();
    const s = (expiresAt: Date, endedAt: Date | null = null) => ({ idHash: bytes(), userId, method: 'pwd', authTime: new Date(), lastSeenAt: new Date(), expiresAt, endedAt });
    await scope.insert(sessions, [s(ago(2 * DAY)), s(ahead(DAY), ago(2 * DAY)), s(ahead(DAY), ago(HOUR)), s(ahead(DAY))]);
    await purgeExpired(env.database.global);
    expect(await scope.count(sessions, eq(sessions.userId, userId))).toBe(2);
  });

  it('used client assertions: once they expired', async () => {
    await scope.insert(usedAssertions, [
      { clientId: 'purge-c', jti: 'old', expiresAt: ago(1000) },
      { clientId: 'purge-c', jti: 'live', expiresAt: ahead(HOUR) },
    ]);
    await purgeExpired(env.database.global);
    expect((await scope.select(usedAssertions, eq(usedAssertions.clientId, 'purge-c'))).map((r) => r.jti)).toEqual(['live']);
  });

  it('rate-limit counters: an hour after their window started', async () => {
    await scope.insert(rateLimitCounters, [
      { key: 'purge:old', windowStart: ago(2 * HOUR), count: 3 },
      { key: 'purge:live', windowStart: ago(60_000), count: 3 },
    ]);
    await purgeExpired(env.database.global);
    const keys = (await scope.select(rateLimitCounters)).map((r) => r.key).filter((k) => k.startsWith('purge:'));
    expect(keys).toEqual(['purge:live']);
  });

  it('signing keys: retired ones once no token they signed can be alive, revoked ones a day later; others never', async () => {
    const rows = await scope.select(signingKeys);
    const template = rows[0]!;
    const key = (kid: string, status: 'retired' | 'revoked', retireAfter: Date) => ({ kid, alg: template.alg, status, publicJwk: template.publicJwk, privateJwkSealed: template.privateJwkSealed, retireAfter });
    await scope.insert(signingKeys, [key('retired-old', 'retired', ago(1000)), key('retired-live', 'retired', ahead(HOUR)), key('revoked-old', 'revoked', ago(2 * DAY)), key('revoked-new', 'revoked', ago(HOUR))]);
    await purgeExpired(env.database.global);
    const kids = (await scope.select(signingKeys)).map((r) => r.kid);
    expect(kids).toEqual(expect.arrayContaining(['retired-live', 'revoked-new', ...rows.map((r) => r.kid)]));
    expect(kids).not.toContain('retired-old');
    expect(kids).not.toContain('revoked-old');
  });
});

it('rotates keys that have signed for the configured number of days, and only those', async () => {
  const [active] = await scope.select(signingKeys, eq(signingKeys.status, 'active'));
  expect(await rotateDueKeys(env.database.global, env.app.services.keys, 30)).not.toContain(`${t.tenant.id}/ES256`);
  await scope.update(signingKeys, { activatedAt: new Date(Date.now() - 31 * 86_400_000) }, eq(signingKeys.kid, active!.kid));
  expect(await rotateDueKeys(env.database.global, env.app.services.keys, 30)).toContain(`${t.tenant.id}/ES256`);
  const [retired] = await scope.select(signingKeys, eq(signingKeys.kid, active!.kid));
  expect(retired!.status).toBe('retired');
});
