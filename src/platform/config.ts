/**
 * Configuration from the environment, parsed once at start. One zod schema is both the type and the validation;
 * `.env.example` lists every variable here.
 */
import { existsSync } from 'node:fs';
import { Resolver } from 'node:dns';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const acceptedByResolver = (servers: string[]) => {
  try {
    new Resolver().setServers(servers);
    return true;
  } catch {
    return false;
  }
};
const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z
  .object({
    PORT: port.default(3000),
    LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
    /** The default tenant's issuer URL: what clients and browsers use to reach this service. */
    PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    EMBEDDED_PG_PORT: port.default(54329),
    /** 32 bytes, base64. Encrypts signing keys at rest and derives the client-secret pepper. */
    MASTER_KEY: z
      .string()
      .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes encoded as base64 (openssl rand -base64 32)')
      .optional(),
    TENANCY_MODE: z.enum(['single', 'multi']).default('single'),
    DEFAULT_TENANT_SLUG: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes').default('default'),
    BOOTSTRAP_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._~-]{3,128}$/, 'URL-safe characters, 3 to 128').optional(),
    BOOTSTRAP_CLIENT_SECRET: z.string().min(32, 'at least 32 characters (use 256 bits of randomness)').optional(),
    /** Rotate each tenant's signing keys after this many days (0: only on POST /api/keys/rotate). */
    KEY_ROTATION_DAYS: z.coerce.number().int().min(0).max(3650).default(0),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
    /** Failed client authentications / sign-ins per client, account or address per minute before 429. */
    AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).max(10_000).default(20),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
    /** Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-* headers are honoured. */
    TRUST_PROXY: z.string().default(''),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    RUN_MIGRATIONS: bool.default(true),
    /** Outbound fetches (platform/outbound.ts) to loopback, and plain http to it. Unset: on only in embedded mode. */
    OUTBOUND_ALLOW_LOOPBACK: bool.optional(),
    /** Outbound fetches to private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). */
    OUTBOUND_ALLOW_PRIVATE: bool.default(false),
    OUTBOUND_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** The largest response body an outbound fetch reads (discovery documents, JWKS, token responses). */
    OUTBOUND_MAX_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
    /** Bearer token for `GET /metrics` (Prometheus); unset: no metrics at all (src/platform/metrics.ts). */
    METRICS_TOKEN: z.string().regex(/^[\x21-\x7e]{32,512}$/, '32 to 512 printable characters without spaces (openssl rand -base64 32)').optional(),
    /**
     * OTLP/HTTP collector base URL (`/v1/traces` is appended); unset: no tracing. Read by src/instrumentation.ts
     * before anything else loads; validated here so a malformed one stops the start with one line.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /** The event feed keeps events this many days; a daily job deletes older ones (a cursor before them: 410). */
    EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    /**
     * A webhook endpoint whose deliveries have failed this long (seconds, from the first failure since the last
     * success) is disabled, audited and announced as `webhook.disabled`; retries are sized to outlast it. Default 5 days.
     */
    WEBHOOK_DISABLE_AFTER_SECONDS: z.coerce.number().int().min(60).max(30 * 86_400).default(5 * 86_400),
    /** The first retry of a failed webhook delivery waits this long (seconds); each next one twice as long, up to 6 hours. */
    WEBHOOK_RETRY_DELAY_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    /**
     * How often the job runner looks for jobs whose worker died (no heartbeat: `kill -9`, a lost host) and retries
     * them, in seconds (pg-boss's supervise and monitor intervals).
     */
    JOBS_SUPERVISE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** Comma-separated DNS servers (IP or IP:port) for domain verification; empty: the system's resolvers. */
    DNS_SERVERS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine(acceptedByResolver, 'IP addresses, optionally with :port (IPv6 as [addr]:port), separated by commas'),
    /**
     * Outgoing mail (invitations): `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`. Unset: each
     * message is written as an .eml file under DATA_DIR/mail and its link logged (the embedded default).
     */
    SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
    /** The From of every message (RFC 5322 §3.6.2): an address, optionally with a display name. */
    MAIL_FROM: z.string().min(3).max(320).default('IAM <no-reply@localhost>'),
    /** How long an Admin Portal link stays usable before it is opened (seconds; WorkOS: 5 minutes). */
    PORTAL_LINK_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(300),
    /**
     * The built-in IdP simulator (src/simulator): a SAML and an OIDC identity provider at `/simulator` on every tenant
     * host that signs in whoever is typed in, and, in the default tenant, a test organization using it. `on` is
     * accepted only on the laptop (embedded PostgreSQL, single tenant); `allow-anywhere` is the explicit opt-in for
     * any other setting. Either is logged at start.
     */
    IDP_SIMULATOR: z.enum(['off', 'on', 'allow-anywhere']).default('off'),
  })
  .refine((c) => c.IDP_SIMULATOR !== 'on' || (!c.DATABASE_URL && c.TENANCY_MODE === 'single'), {
    path: ['IDP_SIMULATOR'],
    message: "'on' only with the embedded database and TENANCY_MODE=single; elsewhere anyone could sign in as anyone through it, so say IDP_SIMULATOR=allow-anywhere if that is really meant",
  })
  .refine((c) => !(c.BOOTSTRAP_CLIENT_SECRET && !c.BOOTSTRAP_CLIENT_ID), {
    path: ['BOOTSTRAP_CLIENT_ID'],
    message: 'required when BOOTSTRAP_CLIENT_SECRET is set',
  })
  .refine((c) => !(c.DATABASE_URL && !c.MASTER_KEY), {
    path: ['MASTER_KEY'],
    message: 'required with DATABASE_URL: every instance must share it (openssl rand -base64 32)',
  });

export type Config = Omit<z.infer<typeof configSchema>, 'OUTBOUND_ALLOW_LOOPBACK'> & { PUBLIC_URL: string; OUTBOUND_ALLOW_LOOPBACK: boolean };

export class ConfigError extends Error {}

/** Parses the environment; the error message is one line naming the variable and what is wrong. */
/** Reads `.env` from the working folder when there is one; variables already set win (as with `node --env-file`). */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most .env files.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const got = name in present ? ` (got ${JSON.stringify(redactIfSecret(name, present[name]!))})` : '';
    throw new ConfigError(`Invalid configuration: ${name}: ${issue.message}${got}`);
  }
  const c = parsed.data;
  return {
    ...c,
    PUBLIC_URL: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    // Embedded mode is the laptop: a local IdP on localhost works there without a setting.
    OUTBOUND_ALLOW_LOOPBACK: c.OUTBOUND_ALLOW_LOOPBACK ?? !c.DATABASE_URL,
  };
}

function redactIfSecret(name: string, value: string): string {
  return /SECRET|KEY|PASSWORD|TOKEN|DATABASE_URL|SMTP_URL/.test(name) ? '[redacted]' : value;
}
