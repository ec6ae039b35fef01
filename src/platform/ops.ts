/** Liveness and readiness, outside tenancy: load balancers probe with any Host header. */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { migrationsApplied } from './db.ts';
import { HEALTH_PATH, READY_PATH } from './ops-paths.ts';

export function opsRoutes(app: FastifyInstance, deps: { pool: pg.Pool; invalidation: { readonly connected: boolean } }) {
  app.get(HEALTH_PATH, { schema: { hide: true } }, async () => ({ status: 'ok' }));
  let migrated = false;
  app.get(READY_PATH, { schema: { hide: true } }, async (_request, reply) => {
    try {
      await deps.pool.query('SELECT 1');
      migrated ||= await migrationsApplied(deps.pool);
      if (!migrated) return reply.status(503).send({ status: 'unavailable', reason: 'migrations not applied' });
      // Without the listener this instance cannot hear that a secret or key was revoked elsewhere.
      if (!deps.invalidation.connected) return reply.status(503).send({ status: 'unavailable', reason: 'cache invalidation listener reconnecting' });
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
}
