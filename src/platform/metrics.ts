/**
 * Prometheus metrics (prom-client), served at `GET /metrics` in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) behind a bearer token, METRICS_TOKEN.
 *
 * One `Registry` per app instance, never prom-client's global default one: tests build many apps in one process,
 * and two apps registering `iam_http_requests_total` in one registry would throw.
 *
 * Label cardinality is bounded by construction: a route is its template (`/api/users/:id`), never the raw URL; no
 * label ever holds a tenant, client, user or connection id; every label value comes from a fixed list (grant types,
 * client types, SCIM resources, provider types, HTTP methods and status codes, queue names the code defines).
 *
 * Disabled (no METRICS_TOKEN): no route, no hooks, no default collectors, and every `record*` call returns at once,
 * so the token path pays nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { METHODS } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Problem, PROBLEM_CONTENT_TYPE } from './errors/problem.ts';
import type { QueueDepth } from './jobs.ts';
import { METRICS_PATH } from './ops-paths.ts';

/** How sign-ins are told apart: the kind of provider, never which one (its id is tenant data). */
export type SigninProviderType = 'password' | 'AzureAd' | 'Google' | 'Auth0' | 'oidc_connection' | 'saml_connection';
export type SigninOutcome = 'success' | 'failure';

/** What the OAuth capability records: one successful token response per call. */
export interface OAuthMetrics {
  recordTokenIssued(grantType: string, clientType: string): void;
}
/** What the SCIM capability records: one request to a resource endpoint per call. */
export interface ScimMetrics {
  recordScimOperation(resource: string, method: string, status: number): void;
}
/** What the sign-in capability records: one finished sign-in attempt per call. */
export interface SigninMetrics {
  recordSignin(providerType: SigninProviderType, outcome: SigninOutcome): void;
}

export interface MetricsOptions {
  /** The bearer token a scraper presents; unset disables metrics. */
  token: string | undefined;
  /** The service's pools, by a fixed name (`app`, `global`). */
  pools: Record<string, pg.Pool>;
  /** pg-boss queue depths, read at scrape time (`Jobs.queueDepths`). */
  queueDepths: () => Promise<QueueDepth[]>;
}

const KNOWN_METHODS = new Set(METHODS);
/** Seconds; from a cached token (~1 ms) to a slow SCIM bulk or an upstream round trip. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Metrics implements OAuthMetrics, ScimMetrics, SigninMetrics {
  readonly enabled: boolean;
  readonly registry = new Registry();
  /** SHA-256 of METRICS_TOKEN: comparing digests is constant-time and does not reveal the token's length. */
  readonly #tokenDigest: Buffer | undefined;
  readonly #http: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route' | 'status'>;
  readonly #tokens: Counter<'grant_type' | 'client_type'>;
  readonly #scim: Counter<'resource' | 'method' | 'status'>;
  readonly #signins: Counter<'provider_type' | 'outcome'>;

  constructor(opts: MetricsOptions) {
    this.enabled = !!opts.token;
    this.#tokenDigest = opts.token ? sha256(opts.token) : undefined;
    const registers = [this.registry];
    this.#http = new Counter({ name: 'iam_http_requests_total', help: 'HTTP requests answered, by route template and status.', labelNames: ['method', 'route', 'status'], registers });
    this.#duration = new Histogram({
      name: 'iam_http_request_duration_seconds',
      help: 'Time from request received to response sent, by route template.',
      labelNames: ['method', 'route', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#tokens = new Counter({ name: 'iam_tokens_issued_total', help: 'Successful token endpoint responses (RFC 6749 §5.1), by grant type and client type.', labelNames: ['grant_type', 'client_type'], registers });
    this.#scim = new Counter({ name: 'iam_scim_operations_total', help: 'SCIM 2.0 resource requests (RFC 7644 §3), by resource, HTTP method and status.', labelNames: ['resource', 'method', 'status'], registers });
    this.#signins = new Counter({ name: 'iam_signins_total', help: 'Finished interactive sign-ins, by provider type and outcome.', labelNames: ['provider_type', 'outcome'], registers });
    if (!this.enabled) return;

    const pools = Object.entries(opts.pools);
    const poolGauge = (name: string, help: string, read: (p: pg.Pool) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          for (const [pool, p] of pools) this.set({ pool }, read(p));
        },
      });
    poolGauge('iam_db_pool_connections', 'Open connections in the pool (pg Pool totalCount).', (p) => p.totalCount);
    poolGauge('iam_db_pool_idle_connections', 'Open connections not checked out (pg Pool idleCount).', (p) => p.idleCount);
    poolGauge('iam_db_pool_waiting_clients', 'Queries waiting for a connection (pg Pool waitingCount).', (p) => p.waitingCount);
    new Gauge({
      name: 'iam_jobs_queue_depth',
      help: 'pg-boss jobs per queue and state (ready: due now; deferred: start later; active: running; failed: retained failures).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        // A scrape during a database outage still answers with everything else.
        const depths = await opts.queueDepths().catch(() => []);
        for (const d of depths) {
          for (const state of ['ready', 'deferred', 'active', 'failed'] as const) this.set({ queue: d.queue, state }, d[state]);
        }
      },
    });
    // Process CPU and memory, GC, and the event-loop delay histogram (perf_hooks.monitorEventLoopDelay).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  /** Zero series for the values known up front, so `rate()` sees the first increment. */
  initialize(labels: { grantTypes: readonly string[]; clientTypes: readonly string[]; signinProviders: readonly SigninProviderType[] }): void {
    if (!this.enabled) return;
    for (const grant_type of labels.grantTypes) for (const client_type of labels.clientTypes) this.#tokens.inc({ grant_type, client_type }, 0);
    for (const provider_type of labels.signinProviders) for (const outcome of ['success', 'failure'] as const) this.#signins.inc({ provider_type, outcome }, 0);
  }

  recordTokenIssued(grantType: string, clientType: string): void {
    if (this.enabled) this.#tokens.inc({ grant_type: grantType, client_type: clientType });
  }

  recordScimOperation(resource: string, method: string, status: number): void {
    if (this.enabled) this.#scim.inc({ resource, method, status: String(status) });
  }

  recordSignin(providerType: SigninProviderType, outcome: SigninOutcome): void {
    if (this.enabled) this.#signins.inc({ provider_type: providerType, outcome });
  }

  /** True when `authorization` is `Bearer <METRICS_TOKEN>` (RFC 6750 §2.1), compared in constant time. */
  authorized(authorization: string | undefined): boolean {
    if (!this.#tokenDigest) return false;
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization ?? '');
    return timingSafeEqual(sha256(m?.[1] ?? ''), this.#tokenDigest) && !!m;
  }

  /**
   * Registers the HTTP hook and `GET /metrics` on the root instance; call before any plugin is registered, so the
   * hook is inherited by every context.
   */
  install(app: FastifyInstance): void {
    if (!this.enabled) return;
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      // Unmatched URLs (404s, malformed paths) share one series: their raw path is unbounded.
      const route = request.routeOptions.url ?? 'unmatched';
      const labels = { method: KNOWN_METHODS.has(request.method) ? request.method : 'OTHER', route, status: String(reply.statusCode) };
      this.#http.inc(labels);
      this.#duration.observe(labels, reply.elapsedTime / 1000);
      done();
    });
    app.get(METRICS_PATH, { schema: { hide: true } }, async (request, reply) => {
      if (!this.authorized(request.headers.authorization)) {
        const problem = new Problem(401, 'invalid-token', 'Unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN>.');
        return reply.status(401).header('WWW-Authenticate', 'Bearer realm="metrics"').type(PROBLEM_CONTENT_TYPE).send(problem.body(METRICS_PATH));
      }
      const body = await this.registry.metrics();
      return reply.header('Cache-Control', 'no-store').type(this.registry.contentType).send(body);
    });
  }
}
