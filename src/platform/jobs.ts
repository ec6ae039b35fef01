/**
 * Background jobs on pg-boss (PostgreSQL-backed queues and cron schedules): schedules survive restarts, and with
 * several instances each scheduled run happens once. Only the process (src/server.ts) starts the runner; tests call
 * the handlers directly.
 */
import { PgBoss } from 'pg-boss';

export interface JobDefinition {
  name: string;
  /** Five-field cron expression, UTC. */
  cron: string;
  handler: () => Promise<unknown>;
}

interface JobLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface JobRunner {
  stop(): Promise<void>;
}

export async function startJobs(opts: { connectionString: string; jobs: JobDefinition[]; log: JobLogger }): Promise<JobRunner> {
  const boss = new PgBoss({ connectionString: opts.connectionString, schema: 'pgboss', max: 2, application_name: 'iam-jobs' });
  boss.on('error', (err) => opts.log.error({ err }, 'job runner error'));
  await boss.start();
  for (const job of opts.jobs) {
    await boss.createQueue(job.name);
    await boss.schedule(job.name, job.cron, null, { tz: 'UTC' });
    await boss.work(job.name, async () => {
      opts.log.info({ job: job.name }, 'job started');
      await job.handler();
    });
  }
  opts.log.info({ jobs: opts.jobs.map((j) => `${j.name} (${j.cron})`) }, 'job runner started');
  return { stop: () => boss.stop({ graceful: true, timeout: 5_000 }) };
}
