/**
 * `npm run bench:webhooks` — webhook delivery to a receiver on loopback (issue #13 item 8): events delivered per
 * second (target ≥ 1,000/s on this machine) and the time from a change's commit to its delivery at 100 changes/s
 * (target p99 < 1 s).
 *
 * 1. Starts this service (bench/lib/ours.ts: `node src/server.ts`, its pg-boss workers included) with loopback
 *    webhooks allowed, and a receiver in this process that answers 204 and verifies nothing (verification is the
 *    receiver's cost, not ours; the tests verify every signature with `standardwebhooks`).
 * 2. Throughput: registers an endpoint for `user.created`, disabled; creates BENCH_EVENTS users through /api (8
 *    connections); enables the endpoint and times the backlog's delivery, from the PATCH to the last arrival.
 * 3. Latency: with the endpoint caught up, creates users open loop at BENCH_RATE per second for BENCH_SECONDS
 *    (one POST every 1/rate s, whatever the answers do). For each user: commit → arrival, where the commit is bounded
 *    by the POST's start (upper bound) and the 201's arrival (lower bound: the transaction committed before it).
 * 4. Prints a markdown section and appends it to docs/benchmarks.md (BENCH_DOCS=0 to skip).
 *
 * Settings: BENCH_EVENTS (5000), BENCH_RATE (100), BENCH_SECONDS (15), BENCH_DOCS (on), BENCH_PROFILE=1 (a CPU
 * profile of the server in .data/profiles; summarise it with bench/profile-summary.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOurs } from './lib/ours.ts';
import { runBench, stopAll } from './lib/children.ts';
import { machine, publishSection, revision } from './lib/report.ts';
import { Client, closedLoop, percentile } from './scim/http.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const EVENTS = env('BENCH_EVENTS', 5000);
const RATE = env('BENCH_RATE', 100);
const SECONDS = env('BENCH_SECONDS', 15);
const log = (line: string) => console.error(`[bench:webhooks] ${line}`);

/** Arrival time (performance.now) of each delivered user id, and the count of deliveries. */
const arrivals = new Map<string, number>();
let deliveries = 0;
let duplicates = 0;

function startReceiver(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      deliveries++;
      const userId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } }).data.id;
      if (arrivals.has(userId)) duplicates++;
      else arrivals.set(userId, at);
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ms = (v: number) => v.toFixed(1);

async function main() {
  const receiver = await startReceiver();
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const profileDir = '.data/profiles';
  const profile = process.env.BENCH_PROFILE === '1' ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {};
  const ours = await startOurs({ log, settings: { OUTBOUND_ALLOW_LOOPBACK: 'true' }, ...profile });
  try {
    const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(ours.clientId)}:${encodeURIComponent(ours.clientSecret)}`).toString('base64');
    const tok = await fetch(`${ours.baseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'iam/' }) });
    const admin = ((await tok.json()) as { access_token: string }).access_token;
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${ours.baseUrl}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, any>>;
    };
    const client = new Client(ours.baseUrl, 16);
    const hook = await api('POST', '/api/webhooks', { url: receiverUrl, eventTypes: ['user.created'], enabled: false });

    // 2. Throughput: a backlog of EVENTS, delivered after the endpoint is enabled.
    log(`creating ${EVENTS} users (the backlog)`);
    const load = await closedLoop(client, 'POST /api/users', { connections: 8, seconds: 3600, maxRequests: EVENTS }, (n) => ({
      method: 'POST',
      path: '/api/users',
      headers,
      body: JSON.stringify({ email: `backlog-${n}@bench.example` }),
    }));
    if (load.non2xx || load.errors) throw new Error('user load failed');
    log(`backlog written at ${load.rps.toFixed(0)} users/s; enabling the endpoint`);
    const t0 = performance.now();
    await api('PATCH', `/api/webhooks/${hook.id}`, { enabled: true });
    await until(() => arrivals.size >= EVENTS, 600_000, 'the backlog');
    const drainSeconds = (Math.max(...arrivals.values()) - t0) / 1000;
    const throughput = EVENTS / drainSeconds;
    if (process.env.BENCH_DEBUG) {
      const times = [...arrivals.values()].sort((a, b) => a - b);
      const gaps = times.slice(1).map((t, i) => [t - times[i]!, i + 1] as const).sort((a, b) => b[0] - a[0]).slice(0, 10);
      log(`first arrival ${(times[0]! - t0).toFixed(0)} ms after enabling; largest gaps: ${gaps.map(([g, i]) => `${g.toFixed(0)}ms@${i}`).join(' ')}`);
    }
    log(`backlog delivered: ${throughput.toFixed(0)} events/s`);

    // 3. Latency at RATE changes per second, open loop.
    const sent = new Map<string, { start: number; committed: number }>();
    const total = RATE * SECONDS;
    log(`latency: ${total} users at ${RATE}/s`);
    let failures = 0;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const start = performance.now();
      inFlight.push(
        client.request({ method: 'POST', path: '/api/users', headers, body: JSON.stringify({ email: `live-${i}@bench.example` }) }).then((res) => {
          if (res.status !== 201) failures++;
          else sent.set((JSON.parse(res.body) as { id: string }).id, { start, committed: performance.now() });
        }),
      );
    }
    await Promise.all(inFlight);
    const offered = total / ((performance.now() - started) / 1000);
    await until(() => [...sent.keys()].every((id) => arrivals.has(id)), 120_000, 'the live deliveries');
    const upper = [...sent].map(([id, t]) => arrivals.get(id)! - t.start).sort((a, b) => a - b);
    const lower = [...sent].map(([id, t]) => Math.max(0, arrivals.get(id)! - t.committed)).sort((a, b) => a - b);
    const row = (name: string, s: number[]) => `| ${name} | ${ms(percentile(s, 50))} | ${ms(percentile(s, 90))} | ${ms(percentile(s, 99))} | ${ms(s.at(-1)!)} |`;
    const p99 = percentile(upper, 99);

    const m = machine();
    const section = [
      `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — Webhook delivery (\`npm run bench:webhooks\`)`,
      '',
      `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, ${m.os}; Node ${m.node}.`,
      `- Ours: ${revision()}; ${ours.database}. One instance (\`node src/server.ts\`, its pg-boss workers), one endpoint for \`user.created\`, a receiver on loopback answering 204. Every delivery is signed (Standard Webhooks), goes through the bounded outbound fetcher (one keep-alive connection per delivery run), and is written to the delivery log with the endpoint's cursor (grouped: one transaction per burst of deliveries).`,
      '',
      '| measure | value |',
      '|---|---:|',
      `| backlog of ${EVENTS} events, from enabling the endpoint to the last arrival | ${drainSeconds.toFixed(2)} s |`,
      `| **events delivered per second** | **${throughput.toFixed(0)}** |`,
      `| deliveries received / duplicates | ${deliveries} / ${duplicates} |`,
      `| live load offered (users created per second, open loop) | ${offered.toFixed(1)} (${failures} failed) |`,
      '',
      `Commit → delivery at ${RATE} changes/s for ${SECONDS} s (${sent.size} changes), ms:`,
      '',
      '| bound | p50 | p90 | p99 | max |',
      '|---|---:|---:|---:|---:|',
      row('upper: from the POST\'s start', upper),
      row('lower: from the 201\'s arrival', lower),
      '',
      `- ${throughput >= 1000 ? '✅' : '❌'} throughput ${throughput.toFixed(0)} events/s (target ≥ 1,000/s)`,
      `- ${p99 < 1000 ? '✅' : '❌'} p99 commit → delivery ${ms(p99)} ms, upper bound (target < 1,000 ms)`,
      '',
    ].join('\n');
    await publishSection(section, log);
  } finally {
    await ours.stop();
    receiver.close();
    await stopAll();
  }
}

runBench(main);
