/**
 * `npm run bench:token`: the OAuth 2.0 client_credentials grant with client_secret_basic, measured with autocannon
 * against three targets, one after another, each in its own child process on 127.0.0.1:
 *
 *   ours           this service (`node src/server.ts`) on PostgreSQL            bench/lib/ours.ts
 *   oidc-provider  the `oidc-provider` package, same grant, ES256 JWTs           bench/peers/oidc-provider.ts
 *   ceiling        a bare Fastify route answering a constant body                bench/peers/bare-fastify.ts
 *
 * Each target is validated with one real request first (and its JWT verified against its JWKS), warmed up, then
 * measured. Prints a markdown table with ratios and the targets, writes JSON to bench/results/, and
 * appends a dated section to docs/benchmarks.md. See bench/README.md for the settings.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Result } from 'autocannon';
import { ChildFailed, REPO_ROOT, freePort, killAllNow, readyLine, spawnNode, stopAll, waitUntilReady } from './lib/children.ts';
import { ValidationFailed, load, tokenRequest, validate, type TokenRequest } from './lib/load.ts';
import { startOurs } from './lib/ours.ts';
import { appendToDocs, cpuTable, machine, revision, section, table, verdictLines, verdicts, type Row, type TargetKey } from './lib/report.ts';
import { formatSummary, summarize, type Window } from './lib/cpuprofile.ts';
import { startCpuWindow } from './lib/cpu.ts';
import { OIDC_PROVIDER_SCOPE } from './peers/shared.ts';
import { signatureCpuMicros } from './lib/floor.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

class UsageError extends Error {}

function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}

const ALL: TargetKey[] = ['ours', 'ours-eddsa', 'oidc-provider', 'ceiling'];
const LABELS: Record<TargetKey, string> = { ours: 'ours (iam-service)', 'ours-eddsa': 'ours, EdDSA client', 'oidc-provider': 'oidc-provider 9', ceiling: 'ceiling (bare Fastify)' };

/** A machine client whose tokens are EdDSA-signed, created through /api with the bootstrap client (an administrator). */
async function eddsaClient(baseUrl: string, clientId: string, clientSecret: string): Promise<{ id: string; secret: string }> {
  const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const tok = await fetch(`${baseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=iam/' });
  const admin = ((await tok.json()) as { access_token: string }).access_token;
  const secret = randomBytes(32).toString('base64url');
  const res = await fetch(`${baseUrl}/api/downstream/MachineClient/bench-eddsa`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'Bench EdDSA', allowedScopes: ['iam/'], clientSecret: secret, tokenSigningAlg: 'EdDSA' }),
  });
  if (res.status !== 201) throw new Error(`creating the EdDSA client: ${res.status} ${await res.text()}`);
  return { id: 'bench-eddsa', secret };
}

interface Settings {
  seconds: number;
  connections: number;
  warmupSeconds: number;
  targets: TargetKey[];
  profile: boolean;
  docs: boolean;
  dbPoolSize: number | undefined;
  deadlineSeconds: number | undefined;
}

function settings(): Settings {
  const seconds = intEnv('BENCH_SECONDS', 20, 1, 600);
  const connections = intEnv('BENCH_CONNECTIONS', 32, 1, 1024);
  const warmupSeconds = intEnv('BENCH_WARMUP_SECONDS', Math.min(3, seconds), 0, 60);
  const profile = process.env.BENCH_PROFILE === '1';
  const rawTargets = process.env.BENCH_TARGETS?.trim();
  const targets = rawTargets ? rawTargets.split(',').map((t) => t.trim()) : ALL;
  for (const t of targets) if (!ALL.includes(t as TargetKey)) throw new UsageError(`BENCH_TARGETS: unknown target ${JSON.stringify(t)} (use ${ALL.join(', ')})`);
  const ordered = ALL.filter((t) => targets.includes(t));
  // Only complete, unprofiled runs go into the docs: a profiler slows the server down.
  const docs = process.env.BENCH_DOCS !== '0' && !profile && ordered.length === ALL.length;
  const pool = process.env.BENCH_DB_POOL_SIZE ? intEnv('BENCH_DB_POOL_SIZE', 10, 1, 200) : undefined;
  const deadlineSeconds = process.env.BENCH_DEADLINE_SECONDS ? intEnv('BENCH_DEADLINE_SECONDS', 0, 5, 7200) : undefined;
  return { seconds, connections, warmupSeconds, targets: ordered, profile, docs, dbPoolSize: pool, deadlineSeconds };
}

interface Started {
  request: TokenRequest;
  pid?: number;
  dbPid?: number;
  dbQueries?: () => Promise<number | undefined>;
  jwt?: { issuer: string; discoveryUrl: string; alg?: 'ES256' | 'EdDSA' };
  database?: string;
  stop(): Promise<void>;
}

const RESULTS_DIR = fileURLToPath(new URL('bench/results/', REPO_ROOT));
const PROFILE_DIR = path.join(RESULTS_DIR, 'profiles');

const profileName = (key: TargetKey, stamp: string) => `${key}-${stamp}.cpuprofile`;

async function startTarget(key: TargetKey, s: Settings, stamp: string): Promise<Started> {
  const execArgv = s.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${profileName(key, stamp)}`] : [];
  if (key === 'ours' || key === 'ours-eddsa') {
    const ours = await startOurs({ execArgv, dbPoolSize: s.dbPoolSize, log });
    const client = key === 'ours' ? { id: ours.clientId, secret: ours.clientSecret } : await eddsaClient(ours.baseUrl, ours.clientId, ours.clientSecret);
    return {
      request: tokenRequest(`${ours.baseUrl}/oauth2/token`, client.id, client.secret, 'iam/'),
      jwt: { issuer: ours.baseUrl, discoveryUrl: `${ours.baseUrl}/.well-known/openid-configuration`, alg: key === 'ours' ? 'ES256' : 'EdDSA' },
      database: ours.database,
      pid: ours.child.process.pid,
      dbPid: ours.dbPid,
      dbQueries: ours.dbQueries,
      stop: ours.stop,
    };
  }
  const port = await freePort();
  const clientId = 'bench';
  const clientSecret = randomBytes(32).toString('base64url');
  const script = key === 'oidc-provider' ? 'bench/peers/oidc-provider.ts' : 'bench/peers/bare-fastify.ts';
  log(`starting ${LABELS[key]} on 127.0.0.1:${port}`);
  const child = spawnNode(LABELS[key], [...execArgv, script], { ...process.env, PORT: String(port), CLIENT_ID: clientId, CLIENT_SECRET: clientSecret });
  const stop = async () => {
    const code = await child.stop();
    if (code !== 0) log(`${LABELS[key]} exited with ${code}`);
  };
  try {
    await waitUntilReady(child, readyLine(child), 30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const base = `http://127.0.0.1:${port}`;
  if (key === 'oidc-provider') {
    return {
      request: tokenRequest(`${base}/token`, clientId, clientSecret, OIDC_PROVIDER_SCOPE),
      jwt: { issuer: base, discoveryUrl: `${base}/.well-known/openid-configuration` },
      pid: child.process.pid,
      stop,
    };
  }
  return { request: tokenRequest(`${base}/oauth2/token`, clientId, clientSecret, 'iam/'), pid: child.process.pid, stop };
}

let current: Started | undefined;
let finishing = false;

async function shutdown(code: number, why?: string): Promise<never> {
  if (!finishing) {
    finishing = true;
    if (why) log(why);
    await current?.stop().catch(() => {});
    await stopAll(5_000);
  }
  process.exit(code);
}

async function main(): Promise<void> {
  const s = settings();
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  // Bounded: startup allowance + warm-up + measurement per target, plus slack. Past it everything is killed.
  const budgetSeconds = s.deadlineSeconds ?? s.targets.length * (150 + s.warmupSeconds + s.seconds + 30) + 60;
  setTimeout(() => {
    log(`deadline of ${budgetSeconds} s passed: killing every child process`);
    killAllNow();
    process.exit(1);
  }, budgetSeconds * 1000).unref();

  const m = machine();
  log(`${s.targets.join(', ')}: ${s.connections} connections, ${s.warmupSeconds} s warm-up + ${s.seconds} s each, sequentially` + (s.profile ? ', with --cpu-prof on our server' : ''));
  log(`machine: ${m.nproc} CPUs, ${m.cpu}, ${m.memory}, Node ${m.node}`);

  // The floor's signature part, first, while nothing else runs.
  const floor = { es256Micros: await signatureCpuMicros('ES256'), eddsaMicros: await signatureCpuMicros('EdDSA') };
  log(`one signature: ES256 ${floor.es256Micros.toFixed(1)} µs, EdDSA ${floor.eddsaMicros.toFixed(1)} µs of CPU`);
  const rows: Row[] = [];
  const validations: Record<string, string> = {};
  const windows: Partial<Record<TargetKey, Window>> = {};
  let database = 'n/a';
  for (const key of s.targets) {
    current = await startTarget(key, s, stamp);
    try {
      const v = await validate(LABELS[key], current.request, current.jwt);
      validations[LABELS[key]] = v.summary;
      log(`${LABELS[key]}: validated (${v.summary})`);
      if (current.database) database = current.database;
      if (s.warmupSeconds > 0) await load(current.request, { connections: s.connections, seconds: s.warmupSeconds });
      log(`${LABELS[key]}: measuring for ${s.seconds} s`);
      const q0 = await current.dbQueries?.();
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const endCpu = startCpuWindow(current.pid, current.dbPid);
      const result: Result = await load(current.request, { connections: s.connections, seconds: s.seconds });
      const cpu = endCpu();
      windows[key] = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
      const q1 = await current.dbQueries?.();
      const dbQueriesPerRequest = q0 !== undefined && q1 !== undefined ? (q1 - q0) / Math.max(1, result.requests.total) : undefined;
      rows.push({ key, label: LABELS[key], result, cpu, dbQueriesPerRequest });
      log(`${LABELS[key]}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
    } finally {
      const c = current;
      current = undefined;
      await c.stop();
    }
  }

  const info = { date: started, seconds: s.seconds, warmupSeconds: s.warmupSeconds, connections: s.connections, database, revision: revision(), validations };
  const md = section(rows, info, m, floor);
  process.stdout.write('\n' + table(rows) + '\n\n' + verdictLines(verdicts(rows, floor)) + '\n\n' + cpuTable(rows) + '\n\n');

  await mkdir(RESULTS_DIR, { recursive: true });
  const jsonFile = path.join(RESULTS_DIR, `token-${stamp}.json`);
  await writeFile(jsonFile, JSON.stringify({ ...info, machine: m, rows, windows }, null, 2));
  log(`raw results: ${path.relative(process.cwd(), jsonFile)}`);
  if (s.docs) log(`appended to ${path.relative(process.cwd(), await appendToDocs(md))}`);

  if (s.profile) {
    const written = await readdir(PROFILE_DIR).catch(() => [] as string[]);
    for (const key of s.targets) {
      const file = written.find((f) => f === profileName(key, stamp));
      if (!file) {
        log(`no CPU profile was written for ${LABELS[key]} (did it exit gracefully?)`);
        continue;
      }
      const full = path.join(PROFILE_DIR, file);
      process.stdout.write(`### CPU profile: ${LABELS[key]}\n\n${formatSummary(await summarize(full, 25, windows[key]))}\n\n`);
      log(`profile: ${path.relative(process.cwd(), full)} (Chrome DevTools › Performance, or node bench/profile-summary.ts FILE)`);
    }
  }
}

process.once('SIGINT', () => void shutdown(130, 'interrupted: stopping child processes'));
process.once('SIGTERM', () => void shutdown(143, 'terminated: stopping child processes'));
// Whatever happens, no child outlives this process.
process.on('exit', killAllNow);

main().then(
  () => shutdown(0),
  (e: unknown) => {
    const expected = e instanceof UsageError || e instanceof ValidationFailed || e instanceof ChildFailed;
    process.stderr.write(`\nbench:token failed: ${expected ? (e as Error).message : e instanceof Error ? e.stack : String(e)}\n`);
    return shutdown(1);
  },
);
