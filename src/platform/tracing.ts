/**
 * OpenTelemetry traces (https://opentelemetry.io/docs/specs/otel/), exported over OTLP/HTTP with JSON bodies
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp) to OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. Off unless
 * that variable is set.
 *
 * Spans: one server span per HTTP request (instrumentation-http) with the Fastify request, hook and handler spans
 * under it (@fastify/otel, attached through Fastify's `fastify.initialization` diagnostics channel, so no module
 * patching and no plugin in buildApp), and one span per PostgreSQL query (instrumentation-pg).
 *
 * Load order matters: instrumentation-http and -pg patch `node:http` and `pg` when they are first required, so this
 * must run before Fastify and pg load. src/instrumentation.ts calls it and src/server.ts imports that module first.
 *
 * What spans carry: paths and route templates, query parameter names, status codes, SQL text with `$n` placeholders.
 * Never query or bind parameter values (`enhancedDatabaseReporting` stays off: they hold codes, secret digests and
 * personal data), request bodies, or headers other than User-Agent.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OPS_PATHS } from './ops-paths.ts';

export interface Tracing {
  /** Flushes the spans still buffered and stops exporting (shutdown). */
  shutdown(): Promise<void>;
}

/** The path of an incoming request, without its query string (which can carry codes and tokens). */
const pathOf = (url: string | undefined) => (url ?? '').split('?')[0]!;

/**
 * Starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT is a valid http(s) URL; otherwise returns undefined and changes
 * nothing (a malformed value is reported by loadConfig, which stops the start).
 */
export function startTracing(env: NodeJS.ProcessEnv): Tracing | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || !URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'iam-service' }),
    // The exporter reads the endpoint, OTEL_EXPORTER_OTLP_HEADERS and timeouts itself; the processor OTEL_BSP_*.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes are not traffic worth a trace. (The exporter's own requests run with tracing suppressed.)
        ignoreIncomingRequestHook: (request) => OPS_PATHS.has(pathOf(request.url)),
        // `url.query` keeps the parameter names only: values are authorization codes, state, PKCE challenges, login
        // hints and SAML messages (RFC 6749 §4.1.2). The instrumentation's own redaction list knows none of them.
        startIncomingSpanHook: (request) => {
          const query = (request as { url?: string }).url?.split('?')[1];
          return query ? { 'url.query': [...new URLSearchParams(query).keys()].map((k) => `${k}=REDACTED`).join('&') } : {};
        },
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: ({ url }) => OPS_PATHS.has(url),
        // It records `url.path` as `request.url`, query string included; keep the path.
        requestHook: (span, request) => void span.setAttribute('url.path', pathOf(request.url)),
      }),
      // Only queries inside a traced request: pg-boss polls every few seconds and would flood the collector.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}
