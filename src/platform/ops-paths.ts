/**
 * The operational paths outside tenancy: probes and the metrics scrape. A module of its own, importing nothing, so
 * src/platform/tracing.ts can read it before Fastify and pg load.
 */
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
export const METRICS_PATH = '/metrics';

/** Not traffic: metrics and tracing leave these out of traces. */
export const OPS_PATHS: ReadonlySet<string> = new Set([HEALTH_PATH, READY_PATH, METRICS_PATH]);
