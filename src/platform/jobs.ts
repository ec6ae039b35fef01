/**
 * Background jobs on pg-boss (PostgreSQL-backed queues and cron schedules): schedules survive restarts, and with
 * several instances each scheduled run happens once.
 *
 * Two kinds of work: cron jobs (maintenance, warnings) and queues that capabilities send to (mail, webhook
 * deliveries). A capability `define`s its queue when it registers; `send(scope, …)` inserts the job in the caller's
 * transaction, so a change and the work it causes commit together or not at all. Every app starts the sending side
 * (`start`: pg-boss schema and queues); only the process (src/server.ts) runs workers and schedules (`work`). Tests
 * run queued jobs deterministically with `runQueued`.
 */
import { sql, type SQL } from 'drizzle-orm';
import { PgBoss, type Db as PgBossDb, type QueuePolicy } from 'pg-boss';
import type { TenantScope } from './db.ts';

export interface JobDefinition {
  name: string;
  /** Five-field cron expression, UTC. */
  cron: string;
  handler: () => Promise<unknown>;
}

export interface QueueDefinition<T extends object = object> {
  name: string;
  /** Runs one job; throwing (or exceeding `expireInSeconds`) makes pg-boss retry it as `retry` says. */
  handler: (data: T, job: { id: string; retryCount: number }) => Promise<void>;
  retry: { limit: number; delaySeconds: number; backoff: boolean; maxDelaySeconds?: number };
  /** `key_strict_fifo`: jobs with the same `singletonKey` run one at a time, in order (e.g. per webhook endpoint). */
  policy?: QueuePolicy;
  expireInSeconds?: number;
  /**
   * Workers refresh a heartbeat this often (÷ 2); a job whose heartbeat lapses (its process was killed) is retried by
   * the supervisor of any instance, long before `expireInSeconds`. At least 10 (pg-boss).
   */
  heartbeatSeconds?: number;
  /** Jobs of this queue a process runs at once (default 1). */
  concurrency?: number;
  /** Wake workers by LISTEN/NOTIFY when a job is committed, instead of at their next poll (latency-sensitive queues). */
  notify?: boolean;
}

/** One queue's jobs by state, as pg-boss counts them. */
export interface QueueDepth {
  queue: string;
  /** Queued and due now. */
  ready: number;
  /** Queued with a `startAfter` still ahead (retries waiting out their backoff are here). */
  deferred: number;
  active: number;
  /** Failed jobs pg-boss still retains. */
  failed: number;
}

export interface SendOptions {
  singletonKey?: string;
  startAfter?: Date;
}

interface JobLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const SCHEMA = 'pgboss';

/** pg-boss's `executeSql(text, $n values)` over a TenantScope, so a job insert joins the scope's transaction. */
function inScope(scope: TenantScope): PgBossDb {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const parts = text.split(/\$(\d+)/);
      const chunks: SQL[] = parts.map((part, i) => (i % 2 === 0 ? sql.raw(part) : sql`${values[Number(part) - 1]}`));
      const result = await scope.execute(sql.join(chunks));
      return { rows: (result as { rows: unknown[] }).rows } as never;
    },
  };
}

export class Jobs {
  readonly #boss: PgBoss;
  readonly #log: JobLogger;
  readonly #queues = new Map<string, QueueDefinition<never>>();
  /** The cron jobs' queues, once `work` has scheduled them. */
  readonly #cronQueues: string[] = [];
  #started = false;

  constructor(opts: { connectionString: string; log: JobLogger; worker?: boolean; superviseIntervalSeconds?: number }) {
    const worker = opts.worker ?? false;
    const interval = opts.superviseIntervalSeconds ?? 60;
    // Only the worker process supervises (expiry, heartbeats, retention) and schedules; the others only send.
    this.#boss = new PgBoss({
      connectionString: opts.connectionString,
      schema: SCHEMA,
      max: 2,
      application_name: 'iam-jobs',
      supervise: worker,
      schedule: worker,
      superviseIntervalSeconds: interval,
      monitorIntervalSeconds: interval,
      // Workers hold one listening connection, woken by the pg_notify that a job insert on a `notify` queue commits.
      useListenNotify: worker,
    });
    this.#boss.on('error', (err) => opts.log.error({ err }, 'job runner error'));
    this.#log = opts.log;
  }

  /** Declares a queue; call before `start` (capabilities do it when they register). */
  define<T extends object>(queue: QueueDefinition<T>): void {
    if (this.#started) throw new Error(`queue ${queue.name} defined after the job runner started`);
    if (this.#queues.has(queue.name)) throw new Error(`queue ${queue.name} defined twice`);
    this.#queues.set(queue.name, queue as unknown as QueueDefinition<never>);
  }

  /** Installs pg-boss's schema, creates the defined queues and lets the service role insert jobs. */
  async start(): Promise<void> {
    await this.#boss.start();
    for (const q of this.#queues.values()) {
      const options = {
        retryLimit: q.retry.limit,
        retryDelay: q.retry.delaySeconds,
        retryBackoff: q.retry.backoff,
        ...(q.retry.maxDelaySeconds ? { retryDelayMax: q.retry.maxDelaySeconds } : {}),
        ...(q.expireInSeconds ? { expireInSeconds: q.expireInSeconds } : {}),
        ...(q.heartbeatSeconds ? { heartbeatSeconds: q.heartbeatSeconds } : {}),
        notify: q.notify ?? false,
      };
      const existing = await this.#boss.getQueue(q.name);
      if (!existing) await this.#boss.createQueue(q.name, { ...options, ...(q.policy ? { policy: q.policy } : {}) });
      else await this.#boss.updateQueue(q.name, options);
    }
    // Sends run in the callers' transactions, as the service role (src/platform/db.ts); pg-boss's own connection
    // is the schema owner. Serialized: concurrent GRANTs on one object fail with "tuple concurrently updated".
    await this.#boss.getDb().executeSql(
      [
        'BEGIN',
        `SELECT pg_advisory_xact_lock(hashtext('iam-jobs-grants'))`,
        `GRANT USAGE ON SCHEMA ${SCHEMA} TO iam_app, iam_global`,
        `GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${SCHEMA} TO iam_app, iam_global`,
        `ALTER DEFAULT PRIVILEGES IN SCHEMA ${SCHEMA} GRANT SELECT, INSERT ON TABLES TO iam_app, iam_global`,
        'COMMIT',
      ].join(';\n'),
    );
    this.#started = true;
  }

  /** Enqueues a job of `queue` in `scope`'s transaction (or on its own when `scope` is not in one). */
  async send<T extends object>(scope: TenantScope, queue: string, data: T, opts: SendOptions = {}): Promise<string | null> {
    if (!this.#queues.has(queue)) throw new Error(`queue ${queue} is not defined`);
    return this.#boss.send(queue, { ...data, tenantId: scope.tenantId }, { ...opts, db: inScope(scope) });
  }

  /**
   * Whether `queue` holds a job for `singletonKey` that has not started yet (queued, or waiting out a retry), read in
   * `scope`'s transaction: a sender whose work such a job will do anyway need not add one.
   */
  async hasWaiting(scope: TenantScope, queue: string, singletonKey: string): Promise<boolean> {
    // pg-boss's `queued`: a state before active (created, retry).
    return (await this.#boss.findJobs(queue, { key: singletonKey, queued: true, limit: 1, db: inScope(scope) })).length > 0;
  }

  /** The process's workers: every defined queue, and the cron jobs. */
  async work(crons: JobDefinition[]): Promise<void> {
    for (const q of this.#queues.values()) {
      // With notify, polling is only the backstop for jobs that become due later (retries): keep it at the base 2 s.
      await this.#boss.work<object>(q.name, { notifyPollingIntervalSeconds: 2, localConcurrency: q.concurrency ?? 1 }, async ([job]) => {
        if (job) await q.handler(job.data as never, { id: job.id, retryCount: (job as { retryCount?: number }).retryCount ?? 0 });
      });
    }
    for (const job of crons) {
      await this.#boss.createQueue(job.name).catch(() => undefined);
      this.#cronQueues.push(job.name);
      await this.#boss.schedule(job.name, job.cron, null, { tz: 'UTC' });
      await this.#boss.work(job.name, async () => {
        this.#log.info({ job: job.name }, 'job started');
        await job.handler();
      });
    }
    this.#log.info({ queues: [...this.#queues.keys()], jobs: crons.map((j) => `${j.name} (${j.cron})`) }, 'job runner started');
  }

  /**
   * Runs up to `max` jobs of `queue` that are due now, one at a time, marking each completed or failed (failed ones
   * are retried later as the queue says). For tests and one-off tools; the process uses `work`.
   */
  async runQueued(queue: string, max = 100): Promise<{ completed: number; failed: number }> {
    const q = this.#queues.get(queue);
    if (!q) throw new Error(`queue ${queue} is not defined`);
    let completed = 0;
    let failed = 0;
    while (completed + failed < max) {
      const [job] = await this.#boss.fetch<object>(queue, { batchSize: 1, includeMetadata: true });
      if (!job) break;
      try {
        await q.handler(job.data as never, { id: job.id, retryCount: job.retryCount });
        await this.#boss.complete(queue, job.id);
        completed++;
      } catch (err) {
        await this.#boss.fail(queue, job.id, { message: err instanceof Error ? err.message : String(err) });
        failed++;
      }
    }
    return { completed, failed };
  }

  /** Jobs of `queue` in a state (for tests and the delivery log): pg-boss's own record. */
  find(queue: string, opts: { id?: string } = {}) {
    return this.#boss.findJobs(queue, opts);
  }

  /**
   * Jobs per state for every queue this app defined or scheduled (the metrics gauge, src/platform/metrics.ts).
   * pg-boss's `getQueueStats` serves the counts its monitor caches on the queue table; `force` recounts when they are
   * over a minute old. So the depths are at most about a minute old, and a scrape does not scan the job table each
   * time.
   */
  async queueDepths(): Promise<QueueDepth[]> {
    if (!this.#started) return [];
    const names = [...this.#queues.keys(), ...this.#cronQueues];
    const depths = await Promise.all(
      names.map(async (queue) => {
        const [s] = await this.#boss.getQueueStats(queue, { force: true }).catch(() => []);
        return s ? { queue, ready: s.readyCount, deferred: s.deferredCount, active: s.activeCount, failed: s.failedCount } : undefined;
      }),
    );
    return depths.filter((d) => d !== undefined);
  }

  async stop(): Promise<void> {
    await this.#boss.stop({ graceful: true, timeout: 5_000 });
  }
}
