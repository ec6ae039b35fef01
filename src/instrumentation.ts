/**
 * Imported first by src/server.ts, so it runs before Fastify and pg load: OpenTelemetry tracing when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (src/platform/tracing.ts). Reads `.env` first, as the server does, so the
 * variable may live there. Imports nothing that loads Fastify or pg.
 */
import { loadDotEnv } from './platform/config.ts';
import { startTracing } from './platform/tracing.ts';

try {
  loadDotEnv();
} catch {
  // src/server.ts reads it again and reports what is wrong.
}
export const tracing = startTracing(process.env);
