/**
 * The machine description, the results table with ratios and target verdicts, and the dated section appended to
 * docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Result } from 'autocannon';
import { REPO_ROOT } from './children.ts';
import type { CpuUse } from './cpu.ts';

export interface Row {
  key: TargetKey;
  label: string;
  result: Result;
  cpu?: CpuUse;
  /** PostgreSQL queries per request while measured (ours only). */
  dbQueriesPerRequest?: number;
}

export type TargetKey = 'ours' | 'ours-eddsa' | 'oidc-provider' | 'ceiling';

export const DESCRIPTIONS: Record<TargetKey, string> = {
  ours:
    'this service (`node src/server.ts`, LOG_LEVEL=warn, TENANCY_MODE=multi): Fastify routing, tenant resolved from ' +
    'the Host header, form body parsed and validated (zod), client_secret_basic decoded, the client and its live ' +
    'secret hashes looked up, HMAC-SHA-256 of the presented secret compared in constant time, scope resolved, an ' +
    "RFC 9068 JWT access token signed ES256 (jose on WebCrypto: the ECDSA work runs on libuv's thread pool), " +
    'response serialized through the zod schema, one request log call (below the level, so not written). Whether ' +
    'lookups reach PostgreSQL or a cache depends on the commit: the measured PostgreSQL queries per request are ' +
    'given below the CPU table.',
  'ours-eddsa':
    'the same service and request as `ours`, for a second machine client whose tokens are signed EdDSA (Ed25519, ' +
    'RFC 8037; `tokenSigningAlg: "EdDSA"`): what the per-client choice saves beside ES256.',
  'oidc-provider':
    '`oidc-provider` 9 on Koa (bench/peers/oidc-provider.ts): client from static configuration (in memory), ' +
    'client_secret_basic compared in constant time with the plaintext secret, scope checked, resource indicator ' +
    'defaulted, an RFC 9068 JWT access token signed ES256 (jose on WebCrypto, P-256 key, as ours). JWT-format ' +
    'tokens are not stored; no database or adapter I/O per request.',
  ceiling:
    'bare Fastify 5 (bench/peers/bare-fastify.ts): one POST route, the form body read as a string, a constant JSON ' +
    'body of token-response size. No authentication, signing or I/O: the HTTP stack and load generator on this machine.',
};

export interface Machine {
  nproc: string;
  cpu: string;
  memory: string;
  node: string;
  os: string;
}

export function machine(): Machine {
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // not on PATH
  }
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    nproc,
    cpu,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** The service's commit, marked when src/ has uncommitted changes (others may be editing it). */
export function revision(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src').length > 0;
    return dirty ? `${head} + uncommitted changes in src/` : head;
  } catch {
    return 'unknown';
  }
}

export interface Targets {
  vsOidcProvider: number;
  ofCeiling: number;
  p99Ms: number;
  /** Ours' CPU per token at most this many times the floor (one signature + the bare route). */
  ofFloor: number;
  /** oidc-provider's CPU per token at least this many times ours. */
  efficiencyVsOidcProvider: number;
}

export const TARGETS: Targets = { vsOidcProvider: 2, ofCeiling: 0.35, p99Ms: 25, ofFloor: 1.5, efficiencyVsOidcProvider: 2.5 };

/** The floor's parts, measured in the load generator's process before the targets (bench/lib/floor.ts). */
export interface Floor {
  es256Micros: number;
  eddsaMicros: number;
}

export interface Verdict {
  text: string;
  /** undefined: information, not a target */
  ok?: boolean;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
// autocannon records latencies in whole milliseconds.
const ms = (n: number) => fmt(n, Number.isInteger(n) ? 0 : 1);
const mark = (ok: boolean | undefined) => (ok === undefined ? 'ℹ️' : ok ? '✅' : '❌');

/** The target's (and PostgreSQL's) CPU time per request, in µs. */
export function cpuPerRequest(row: Row): number | undefined {
  const cpu = row.cpu;
  if (cpu?.target === undefined) return undefined;
  return ((cpu.target + (cpu.db ?? 0)) * cpu.seconds * 1e6) / Math.max(1, row.result.requests.total);
}

export function table(rows: Row[]): string {
  const lines = [
    '| target | req/s (mean) | latency p50 (ms) | latency p99 (ms) | requests | non-2xx | errors (timeouts) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { label, result: r } of rows) {
    lines.push(`| ${label} | ${fmt(r.requests.average)} | ${ms(r.latency.p50)} | ${ms(r.latency.p99)} | ${fmt(r.requests.total)} | ${fmt(r.non2xx)} | ${fmt(r.errors)} (${fmt(r.timeouts)}) |`);
  }
  return lines.join('\n');
}

/** Above this, other processes were competing for the CPU enough to matter. */
export const NOISE_CORES = 0.15;

/** Where the CPU went while each target was measured, in cores (CPU-seconds per second of the window). */
export function cpuTable(rows: Row[]): string {
  const c = (x: number | undefined) => (x === undefined ? 'n/a' : fmt(x, 2));
  const lines = [
    '| CPU while measured (cores) | target process | PostgreSQL | load generator | kernel irq/softirq/steal | other processes | target + PostgreSQL CPU per request |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { label, result, cpu } of rows) {
    if (!cpu) continue;
    const perReq = cpuPerRequest({ key: 'ours', label, result, cpu });
    lines.push(
      `| ${label} | ${c(cpu.target)} | ${cpu.db === undefined ? '—' : c(cpu.db)} | ${c(cpu.loadGenerator)} | ${c(cpu.kernel)} | ${c(cpu.other)} | ${perReq === undefined ? 'n/a' : `${fmt(perReq)} µs`} |`,
    );
  }
  const capacity = rows.find((r) => r.cpu?.capacity)?.cpu?.capacity;
  if (capacity) lines.push('', `The machine has ${fmt(capacity, 1)} cores' worth of CPU time per second.`);
  for (const r of rows) {
    if (r.dbQueriesPerRequest !== undefined) {
      lines.push('', `PostgreSQL queries per request while ${r.label} was measured: ${fmt(r.dbQueriesPerRequest, 2)} (all queries the server process sent, background work included).`);
    }
  }
  const noisy = rows.filter((r) => (r.cpu?.other ?? 0) > NOISE_CORES);
  if (noisy.length) {
    lines.push(
      '',
      `⚠️ Other processes used more than ${NOISE_CORES} cores while ${noisy.map((r) => r.label).join(', ')} ${noisy.length > 1 ? 'were' : 'was'} measured: those numbers are low by an unknown amount. Re-run on a quiet machine.`,
    );
  }
  return lines.join('\n');
}

/** Ratios and the issue's targets, for whichever rows ran. */
export function verdicts(rows: Row[], floor?: Floor): Verdict[] {
  const row = (k: TargetKey) => rows.find((r) => r.key === k);
  const get = (k: TargetKey) => row(k)?.result;
  const ours = get('ours');
  if (!ours) return [];
  const out: Verdict[] = [];
  const peer = get('oidc-provider');
  if (peer) {
    const ratio = ours.requests.average / peer.requests.average;
    out.push({ ok: ratio >= TARGETS.vsOidcProvider, text: `ours / oidc-provider = **${fmt(ratio, 2)}×** req/s (target ≥ ${TARGETS.vsOidcProvider}×)` });
    const [a, b] = [cpuPerRequest(row('ours')!), cpuPerRequest(row('oidc-provider')!)];
    if (a && b) {
      out.push({
        ok: b / a >= TARGETS.efficiencyVsOidcProvider,
        text: `CPU per request: ours ${fmt(a)} µs, oidc-provider ${fmt(b)} µs, so ours is **${fmt(b / a, 2)}×** as efficient (target ≥ ${TARGETS.efficiencyVsOidcProvider}×; less sensitive than req/s to other load on the machine)`,
      });
    }
  }
  const oursCpu = row('ours') && cpuPerRequest(row('ours')!);
  const routeCpu = row('ceiling') && cpuPerRequest(row('ceiling')!);
  if (floor && oursCpu && routeCpu) {
    const least = floor.es256Micros + routeCpu;
    out.push({
      ok: oursCpu / least <= TARGETS.ofFloor,
      text: `ours / floor = **${fmt(oursCpu / least, 2)}×** CPU per token (floor ${fmt(least)} µs = one ES256 signature ${fmt(floor.es256Micros)} µs + the bare route ${fmt(routeCpu)} µs; target ≤ ${TARGETS.ofFloor}×)`,
    });
  }
  const eddsa = row('ours-eddsa') && cpuPerRequest(row('ours-eddsa')!);
  if (oursCpu && eddsa) {
    out.push({
      text: `EdDSA beside ES256: ours ${fmt(eddsa)} µs per token with EdDSA, ${fmt(oursCpu)} µs with ES256 (**${fmt(oursCpu / eddsa, 2)}×**)${floor ? `; one signature alone: Ed25519 ${fmt(floor.eddsaMicros)} µs, P-256 ${fmt(floor.es256Micros)} µs` : ''}`,
    });
  }
  const ceiling = get('ceiling');
  if (ceiling) {
    const ratio = ours.requests.average / ceiling.requests.average;
    out.push({ ok: ratio >= TARGETS.ofCeiling, text: `ours / ceiling = **${fmt(ratio * 100, 1)} %** req/s (target ≥ ${TARGETS.ofCeiling * 100} %)` });
  }
  out.push({ ok: ours.latency.p99 < TARGETS.p99Ms, text: `ours p99 = **${ms(ours.latency.p99)} ms** (target < ${TARGETS.p99Ms} ms)` });
  const bad = ours.non2xx + ours.errors;
  out.push({ ok: bad === 0, text: `ours non-2xx + errors = **${fmt(bad)}** (target 0)` });
  return out;
}

export function verdictLines(v: Verdict[]): string {
  return v.map((x) => `- ${mark(x.ok)} ${x.text}`).join('\n');
}

export interface RunInfo {
  date: Date;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  database: string;
  revision: string;
  validations: Record<string, string>;
}

export function section(rows: Row[], info: RunInfo, m: Machine, floor?: Floor): string {
  const quick = info.seconds < 20 || info.connections !== 32;
  const when = info.date.toISOString().slice(0, 16).replace('T', ' ');
  const lines = [
    `## ${when} UTC — client_credentials, client_secret_basic${quick ? ' (quick run)' : ''}`,
    '',
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, ${m.os}; Node ${m.node}.`,
    `- Load: autocannon, ${info.connections} connections, pipelining 1, ${info.seconds} s per target after a ${info.warmupSeconds} s warm-up; ` +
      'targets one after another, each in its own process, the load generator in another; everything on 127.0.0.1.',
    `- Ours: commit ${info.revision}; ${info.database}.`,
    '',
    table(rows),
    '',
    verdictLines(verdicts(rows, floor)),
    '',
    cpuTable(rows),
    '',
    'Validated before measuring (one request each):',
    '',
    ...Object.entries(info.validations).map(([k, v]) => `- ${k}: ${v}`),
    '',
    'Per request:',
    '',
    ...rows.map((r) => `- **${r.label}**: ${DESCRIPTIONS[r.key]}`),
    '',
  ];
  return lines.join('\n');
}

const DOC = fileURLToPath(new URL('docs/benchmarks.md', REPO_ROOT));
const DOC_HEADER = `# Benchmarks

Sections are appended by \`npm run bench:token\` (see bench/README.md); the newest is last. Numbers are from the
machine named in each section and compare only with numbers from the same section.
`;

export async function appendToDocs(text: string): Promise<string> {
  if (!existsSync(DOC)) await writeFile(DOC, DOC_HEADER);
  await appendFile(DOC, '\n' + text);
  return DOC;
}

/** A bench's result section: printed, and appended to docs/benchmarks.md unless BENCH_DOCS=0. */
export async function publishSection(text: string, log: (line: string) => void): Promise<void> {
  console.log(text);
  if (process.env.BENCH_DOCS !== '0') log(`appended to ${await appendToDocs(text)}`);
}
