/**
 * `npm run bench:tenants` — many tenants on one instance (issue #15 item 4; the anchor: Keycloak realms degrade at
 * 300–1,000). Targets: tokens requested uniformly across all tenants cost at most 1.2× the CPU of the single-tenant
 * case; RSS under 1 GB; start-up under 10 s.
 *
 * 1. Starts this service (bench/lib/ours.ts, TENANCY_MODE=multi) and writes BENCH_TENANTS tenants straight into its
 *    database with the service's own `createTenant` (each: a host `t<i>.bench.test`, a bootstrap client `bench`).
 * 2. Warms every tenant once (its first token makes its signing keys), then measures client_credentials tokens,
 *    closed loop on BENCH_CONNECTIONS connections for BENCH_SECONDS each: (a) one tenant only, (b) a uniformly
 *    random tenant per request (the Host header selects it). CPU per token = the server's and PostgreSQL's CPU
 *    time ÷ tokens, from /proc (bench/lib/cpu.ts).
 * 3. Reads the server's RSS, then starts a second instance on the same database and times it to /readyz.
 * 4. Prints a markdown section and appends it to docs/benchmarks.md (BENCH_DOCS=0 to skip).
 *
 * Settings: BENCH_TENANTS (10000), BENCH_SECONDS (15), BENCH_CONNECTIONS (16), BENCH_DOCS (on), BENCH_PROFILE (off; `1`:
 * the server runs under --cpu-prof into bench/results/profiles/, for `node bench/profile-summary.ts`).
 */
import { readFileSync } from 'node:fs';
import { startOurs } from './lib/ours.ts';
import { freePort, httpOk, runBench, spawnNode, stopAll, waitUntilReady } from './lib/children.ts';
import { startCpuWindow, type CpuUse } from './lib/cpu.ts';
import { machine, publishSection, revision } from './lib/report.ts';
import { Client, closedLoop, type Stats } from './scim/http.ts';
import { openDatabase } from '../src/platform/db.ts';
import { keyring } from '../src/platform/crypto.ts';
import { createTenant } from '../src/tenancy/tenants.global.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const TENANTS = env('BENCH_TENANTS', 10_000);
const SECONDS = env('BENCH_SECONDS', 15);
const CONNECTIONS = env('BENCH_CONNECTIONS', 16);
const SECRET = 'bench-secret-'.padEnd(43, 'x');
const log = (line: string) => console.error(`[bench:tenants] ${line}`);

const host = (i: number) => `t${i}.bench.test`;
const tokenRequest = (i: number) => ({
  method: 'POST',
  path: '/oauth2/token',
  headers: { host: host(i), authorization: 'Basic ' + Buffer.from(`bench:${SECRET}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials&scope=iam/',
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const perToken = (s: Stats, cpu: CpuUse) => (((cpu.target ?? 0) + (cpu.db ?? 0)) * cpu.seconds * 1e6) / Math.max(1, s.requests);

async function main() {
  const profile = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${new URL('results/profiles', import.meta.url).pathname}`, `--cpu-prof-name=tenants-${Date.now()}.cpuprofile`] : [];
  const ours = await startOurs({ log, execArgv: profile, settings: { AUTH_FAILURE_LIMIT: '10000' } });
  try {
    const db = openDatabase(ours.databaseUrl, { max: 4, applicationName: 'iam-bench' });
    const keys = keyring(Buffer.from(ours.masterKey, 'base64'));
    log(`writing ${TENANTS} tenants`);
    const t0 = performance.now();
    for (let i = 0; i < TENANTS; i++) {
      await createTenant(db.global, keys, { slug: `t${i}`, displayName: `Tenant ${i}`, issuer: `http://${host(i)}`, hosts: [host(i)], bootstrapClientId: 'bench', bootstrapClientSecret: SECRET });
      if ((i + 1) % 2000 === 0) log(`  ${i + 1} tenants (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    await db.close();
    const writeSeconds = (performance.now() - t0) / 1000;

    const client = new Client(ours.baseUrl, CONNECTIONS);
    log('warming every tenant once (first tokens make their signing keys)');
    const warm = await closedLoop(client, 'warm-up', { connections: CONNECTIONS, seconds: 3600, maxRequests: TENANTS }, (n) => tokenRequest(n));
    if (warm.non2xx || warm.errors) throw new Error(`warm-up: ${warm.non2xx} non-2xx, ${warm.errors} errors`);

    const pid = ours.child.process.pid!;
    const measure = async (name: string, pick: (n: number) => number) => {
      // A short warm-up of this pattern, then the window.
      await closedLoop(client, name, { connections: CONNECTIONS, seconds: 2 }, (n) => tokenRequest(pick(n)));
      const end = startCpuWindow(pid, ours.dbPid);
      const stats = await closedLoop(client, name, { connections: CONNECTIONS, seconds: SECONDS }, (n) => tokenRequest(pick(n)));
      const cpu = end();
      if (stats.non2xx || stats.errors) throw new Error(`${name}: ${stats.non2xx} non-2xx, ${stats.errors} errors`);
      log(`${name}: ${stats.rps.toFixed(0)} tokens/s, ${perToken(stats, cpu).toFixed(0)} µs CPU per token`);
      return { stats, cpu, micros: perToken(stats, cpu) };
    };
    const single = await measure('one tenant', () => 0);
    const uniform = await measure(`uniform over ${TENANTS} tenants`, () => Math.floor(Math.random() * TENANTS));
    const rss = rssMiB(pid);

    log('starting a second instance on the same database');
    const port = await freePort();
    const started = performance.now();
    const second = spawnNode('second instance', ['src/server.ts'], { ...ours.env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    await waitUntilReady(second, httpOk(`http://127.0.0.1:${port}/readyz`), 120_000);
    const startSeconds = (performance.now() - started) / 1000;
    const secondRss = rssMiB(second.process.pid!);
    await second.stop();

    const ratio = uniform.micros / single.micros;
    const m = machine();
    const row = (name: string, r: { stats: Stats; micros: number }) =>
      `| ${name} | ${r.stats.rps.toFixed(0)} | ${r.stats.p50.toFixed(2)} | ${r.stats.p99.toFixed(2)} | ${r.micros.toFixed(0)} |`;
    const section = [
      `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${TENANTS.toLocaleString('en-US')} tenants on one instance (\`npm run bench:tenants\`)`,
      '',
      `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, ${m.os}; Node ${m.node}.`,
      `- Ours: ${revision()}; ${ours.database}. ${TENANTS} tenants written with \`createTenant\` in ${writeSeconds.toFixed(0)} s, each warmed with one token (its signing keys made). client_credentials, client_secret_basic, closed loop, ${CONNECTIONS} connections, ${SECONDS} s per row after 2 s of warm-up, the tenant chosen by Host.`,
      '',
      '| tokens | req/s | p50 (ms) | p99 (ms) | server + PostgreSQL CPU per token (µs) |',
      '|---|---:|---:|---:|---:|',
      row('one tenant', single),
      row(`a random one of ${TENANTS.toLocaleString('en-US')} per request`, uniform),
      '',
      `- ${ratio <= 1.2 ? '✅' : '❌'} uniform / one tenant = **${ratio.toFixed(2)}×** CPU per token (target ≤ 1.2×)`,
      `- ${rss < 1024 ? '✅' : '❌'} RSS of the server after the uniform run: **${rss.toFixed(0)} MiB** (target < 1 GB)`,
      `- ${startSeconds < 10 ? '✅' : '❌'} a second instance on this database ready in **${startSeconds.toFixed(1)} s** (target < 10 s; RSS at ready ${secondRss.toFixed(0)} MiB)`,
      '',
    ].join('\n');
    await publishSection(section, log);
  } finally {
    await ours.stop();
    await stopAll();
  }
}

runBench(main);
