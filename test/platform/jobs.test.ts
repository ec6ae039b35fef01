/** Queued jobs join the sender's transaction: a rolled-back change leaves no job behind (src/platform/jobs.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Jobs } from '../../src/platform/jobs.ts';
import { forTenant } from '../../src/platform/db.ts';
import { testEnv, type TestEnv, type TestTenant } from '../support/app.ts';

let env: TestEnv;
let tenant: TestTenant;
let jobs: Jobs;
const queue = `test-${randomBytes(4).toString('hex')}`;
const seen: { n: number; tenantId: string; attempt: number }[] = [];
let failNext = 0;

beforeAll(async () => {
  env = await testEnv();
  tenant = await env.newTenant();
  jobs = new Jobs({ connectionString: env.database.url, log: { info() {}, error() {} } });
  jobs.define<{ n: number; tenantId: string }>({
    name: queue,
    retry: { limit: 2, delaySeconds: 0, backoff: false },
    async handler(data, job) {
      if (failNext > 0) {
        failNext--;
        throw new Error('transient');
      }
      seen.push({ n: data.n, tenantId: data.tenantId, attempt: job.retryCount });
    },
  });
  await jobs.start();
});
afterAll(async () => {
  await jobs.stop();
  await env.close();
});

describe('jobs', () => {
  it('a job sent in a rolled-back transaction never runs; one sent in a committed one does, with its tenant', async () => {
    const scope = forTenant(env.database.db, tenant.tenant.id);
    await expect(
      scope.transaction(async (tx) => {
        await jobs.send(tx, queue, { n: 1 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await scope.transaction(async (tx) => {
      await jobs.send(tx, queue, { n: 2 });
    });
    expect(await jobs.runQueued(queue)).toEqual({ completed: 1, failed: 0 });
    expect(seen).toEqual([{ n: 2, tenantId: tenant.tenant.id, attempt: 0 }]);
  });

  it('a failed job is retried', async () => {
    const scope = forTenant(env.database.db, tenant.tenant.id);
    await scope.transaction((tx) => jobs.send(tx, queue, { n: 3 }));
    failNext = 1;
    expect(await jobs.runQueued(queue)).toEqual({ completed: 1, failed: 1 });
    expect(seen.at(-1)).toEqual({ n: 3, tenantId: tenant.tenant.id, attempt: 1 });
  });

  it('refuses a queue nobody defined', async () => {
    const scope = forTenant(env.database.db, tenant.tenant.id);
    await expect(scope.transaction((tx) => jobs.send(tx, 'nope', {}))).rejects.toThrow(/not defined/);
  });
});
