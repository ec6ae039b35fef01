/**
 * `npm run bench:auth-timing`: does a failed authentication's timing tell whether the identifier exists?
 *
 * Starts this service (bench/lib/ours.ts: `node src/server.ts` on a fresh database of the embedded PostgreSQL, or
 * DATABASE_URL's server), then sends, one at a time over one keep-alive connection, BENCH_SAMPLES (100) requests of
 * each kind below, interleaved in a random order so drift on the machine hits all kinds alike:
 * - token endpoint, client_secret_basic: a known client id with a wrong secret / an unknown client id (a new one
 *   each time, so never cached);
 * - `POST /login`: a known account with a wrong password / an unknown account (a new one each time).
 * The failure limit is raised for the run (AUTH_FAILURE_LIMIT), so no answer is a 429. Reports per kind the
 * median, mean, p10/p90 and standard deviation, and per pair the difference of means with a 95 % confidence
 * interval (Welch): "within noise" when it contains 0. Appends the section to docs/benchmarks.md (BENCH_DOCS=0: not).
 */
import { randomBytes } from 'node:crypto';
import { startOurs } from './lib/ours.ts';
import { stopAll } from './lib/children.ts';
import { machine, publishSection, revision } from './lib/report.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const WARMUP = 10;
const log = (line: string) => console.error(`[bench:auth-timing] ${line}`);
const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');

type Kind = 'token: known client, wrong secret' | 'token: unknown client id' | 'login: known account, wrong password' | 'login: unknown account';
const PAIRS: [Kind, Kind][] = [
  ['token: known client, wrong secret', 'token: unknown client id'],
  ['login: known account, wrong password', 'login: unknown account'],
];

interface Summary {
  n: number;
  mean: number;
  sd: number;
  median: number;
  p10: number;
  p90: number;
}

function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { n: xs.length, mean, sd, median: q(0.5), p10: q(0.1), p90: q(0.9) };
}

async function main() {
  const started = new Date();
  const ours = await startOurs({ log, settings: { AUTH_FAILURE_LIMIT: '10000' } });
  try {
    const base = ours.baseUrl;
    const tokenRes = await fetch(`${base}/oauth2/token`, { method: 'POST', headers: { authorization: basic(ours.clientId, ours.clientSecret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=iam/' });
    if (tokenRes.status !== 200) throw new Error(`token request failed: ${tokenRes.status} ${await tokenRes.text()}`);
    const admin = ((await tokenRes.json()) as { access_token: string }).access_token;
    const account = `timing-${randomBytes(4).toString('hex')}@example.com`;
    const created = await fetch(`${base}/api/users`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: account, fullName: 'Timing Test', password: 'the right password 123' }) });
    if (created.status !== 201) throw new Error(`user creation failed: ${created.status} ${await created.text()}`);
    const page = await fetch(`${base}/login`);
    const cookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;

    const send: Record<Kind, () => Promise<number>> = {
      'token: known client, wrong secret': () => token(ours.clientId, randomBytes(32).toString('base64url')),
      'token: unknown client id': () => token(`unknown-${randomBytes(6).toString('hex')}`, randomBytes(32).toString('base64url')),
      'login: known account, wrong password': () => login(account, randomBytes(12).toString('base64url')),
      'login: unknown account': () => login(`nobody-${randomBytes(6).toString('hex')}@example.com`, randomBytes(12).toString('base64url')),
    };
    async function token(id: string, secret: string) {
      const res = await fetch(`${base}/oauth2/token`, { method: 'POST', headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      await res.arrayBuffer();
      return res.status;
    }
    async function login(name: string, password: string) {
      const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ login: name, password, csrf, return_to: '/' }) });
      await res.arrayBuffer();
      return res.status;
    }

    const kinds = Object.keys(send) as Kind[];
    const order = kinds.flatMap((k) => Array.from({ length: SAMPLES + WARMUP }, () => k));
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const samples = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
    const seen = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>;
    log(`${order.length} requests (${SAMPLES} measured + ${WARMUP} warm-up per kind), one at a time`);
    for (const kind of order) {
      const t0 = performance.now();
      const status = await send[kind]();
      const ms = performance.now() - t0;
      if (status !== 401) throw new Error(`${kind}: expected 401, got ${status}`);
      if (seen[kind]++ >= WARMUP) samples[kind].push(ms);
    }

    const stats = Object.fromEntries(kinds.map((k) => [k, summarize(samples[k])])) as Record<Kind, Summary>;
    const f = (x: number) => x.toFixed(2);
    const m = machine();
    const lines = [
      `## Failed authentication timing (\`npm run bench:auth-timing\`) — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${m.nproc} cores (${m.cpu}), ${m.memory}, ${m.os}, Node ${m.node}. Database: ${ours.database}. Commit ${revision()}. ` +
        `${SAMPLES} samples per kind after ${WARMUP} warm-up, sequential over one keep-alive loopback connection, kinds interleaved at random; client-side wall time per request in ms. Other engineers' processes share the machine.`,
      '',
      '| kind | n | median | mean | p10 | p90 | sd |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...kinds.map((k) => `| ${k} | ${stats[k].n} | ${f(stats[k].median)} | ${f(stats[k].mean)} | ${f(stats[k].p10)} | ${f(stats[k].p90)} | ${f(stats[k].sd)} |`),
      '',
      ...PAIRS.map(([a, b]) => {
        const diff = stats[a].mean - stats[b].mean;
        const half = 1.96 * Math.sqrt(stats[a].sd ** 2 / stats[a].n + stats[b].sd ** 2 / stats[b].n);
        const within = Math.abs(diff) <= half;
        return `- ${within ? '✅' : '❌'} ${a} − ${b}: **${f(diff)} ms** (95 % CI ± ${f(half)} ms; median difference ${f(stats[a].median - stats[b].median)} ms): ${within ? 'within noise' : 'distinguishable'}`;
      }),
      '',
    ];
    const text = lines.join('\n');
    await publishSection(text, log);
  } finally {
    await ours.stop();
  }
}

main().catch(async (e) => {
  process.stderr.write(`\nbench:auth-timing failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  await stopAll();
  process.exit(1);
});
