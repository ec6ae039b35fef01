/**
 * `npm run bench:soak` — two instances behind a loopback balancer on one PostgreSQL, mixed traffic for BENCH_SECONDS
 * (default 600), with faults (issue #15 item 3): at 30 % of the run one instance is killed with SIGKILL and started
 * again 5 s later; at 60 % PostgreSQL is stopped for 5 s and started again. Not part of CI.
 *
 * Traffic, closed loop, through the balancer (round robin; a request whose instance refuses the connection or drops
 * it is retried once on the other, as a load balancer's passive health check does): client_credentials tokens, SCIM
 * `POST /Users` and `GET /Users?filter=userName eq`, `GET /api/users`, and webhook deliveries of every `user.created`
 * to a receiver in this process. During the database outage the service answers 503 with Retry-After: those are
 * counted apart and retried after a pause (what a client is told to do), not as failures.
 *
 * Checked at the end: 0 unexpected non-2xx; every SCIM write answered 201 is present; every `user.created` in the
 * feed reached the receiver at least once; the first instance's RSS at the end at most 10 % above the start (after
 * its warm-up; a leak grows it, V8 handing memory back shrinks it). Prints a markdown section and appends it to docs/benchmarks.md (BENCH_DOCS=0 to skip).
 *
 * Settings: BENCH_SECONDS (600), BENCH_LOOPS (2 per kind of traffic), BENCH_DOCS (on).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startOurs } from './lib/ours.ts';
import { freePort, httpOk, runBench, spawnNode, stopAll, type Child, waitUntilReady } from './lib/children.ts';
import { machine, publishSection, revision } from './lib/report.ts';
import { percentile } from './scim/http.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const SECONDS = env('BENCH_SECONDS', 600);
const LOOPS = env('BENCH_LOOPS', 2);
const log = (line: string) => console.error(`[bench:soak] ${new Date().toISOString().slice(11, 19)} ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

interface Answer {
  status: number;
  body: string;
}

/** The balancer: round robin over the instances' ports; a refused or dropped connection is retried on the other. */
function balancer(ports: () => number[], counters: { retried: number }): Promise<http.Server> {
  let next = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const forward = (req: http.IncomingMessage, body: Buffer, port: number) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const list = ports();
      const first = next++ % list.length;
      for (let i = 0; i < list.length; i++) {
        try {
          const r = await forward(req, body, list[(first + i) % list.length]!);
          res.writeHead(r.status, r.headers).end(r.body);
          return;
        } catch {
          counters.retried++;
        }
      }
      res.writeHead(502).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const ours = await startOurs({ log, settings: { AUTH_FAILURE_LIMIT: '10000', OUTBOUND_ALLOW_LOOPBACK: 'true' } });
  const portOf = (url: string) => Number(new URL(url).port);
  const aPort = portOf(ours.baseUrl);
  const bPort = await freePort();
  const startB = async () => {
    const child = spawnNode('instance B', ['src/server.ts'], { ...ours.env, PORT: String(bPort) });
    await waitUntilReady(child, httpOk(`http://127.0.0.1:${bPort}/readyz`), 120_000);
    return child;
  };
  let b: Child = await startB();
  let bUp = true;
  const counters = { retried: 0 };
  const lb = await balancer(() => (bUp ? [aPort, bPort] : [aPort, bPort]), counters);
  const lbPort = (lb.address() as AddressInfo).port;
  const host = new URL(ours.baseUrl).host;
  const basic = 'Basic ' + Buffer.from(`${ours.clientId}:${ours.clientSecret}`).toString('base64');

  const request = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: lbPort, method, path, headers: { host, ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const token = async (scope: string, auth = basic) => {
    for (;;) {
      const r = await request('POST', '/oauth2/token', { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`);
      if (r.status === 200) return (JSON.parse(r.body) as { access_token: string }).access_token;
      await sleep(500);
    }
  };
  const admin = await token('iam/');
  const apiJson = async (method: string, path: string, body?: unknown) => {
    const r = await request(method, path, { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body || 'null');
  };
  const scimSecret = randomBytes(32).toString('base64url');
  await apiJson('PUT', '/api/downstream/MachineClient/soak-scim', { displayName: 'Soak SCIM', allowedScopes: ['scim.read', 'scim.write'], clientSecret: scimSecret });
  const scimAuth = 'Basic ' + Buffer.from(`soak-scim:${scimSecret}`).toString('base64');
  let scimToken = await token('scim.read scim.write', scimAuth);

  // The webhook receiver.
  const delivered = new Set<string>();
  let deliveries = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries++;
      delivered.add(String(req.headers['webhook-id']));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  await apiJson('POST', '/api/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, eventTypes: ['user.created'] });

  const routes = new Map<string, { latencies: number[]; unexpected: number; unavailable: number }>();
  const written: string[] = [];
  const unexpected: string[] = [];
  const record = (route: string, ms: number, status: number, ok: boolean, detail?: string) => {
    const r = routes.get(route) ?? { latencies: [], unexpected: 0, unavailable: 0 };
    routes.set(route, r);
    if (ok) r.latencies.push(ms);
    else if (status === 503) r.unavailable++;
    else {
      r.unexpected++;
      if (unexpected.length < 20) unexpected.push(`${route} → ${status}${detail ? ` ${detail.slice(0, 120)}` : ''}`);
    }
  };
  let running = true;
  let n = 0;
  const loop = async (route: string, send: () => Promise<Answer>, ok: (a: Answer) => boolean, after?: (a: Answer) => void) => {
    while (running) {
      const t0 = performance.now();
      let a: Answer;
      try {
        a = await send();
      } catch {
        a = { status: 0, body: '' };
      }
      const good = ok(a);
      record(route, performance.now() - t0, a.status, good, good ? undefined : a.body);
      if (good) after?.(a);
      else if (a.status === 503 || a.status === 401) await sleep(a.status === 503 ? 1000 : 0);
      // A token that outlived an outage or a restart is simply renewed.
      if (a.status === 401 && route.startsWith('SCIM')) scimToken = await token('scim.read scim.write', scimAuth).catch(() => scimToken);
    }
  };
  const scimHeaders = () => ({ authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' });
  const loops: Promise<void>[] = [];
  for (let i = 0; i < LOOPS; i++) {
    loops.push(loop('POST /oauth2/token', () => request('POST', '/oauth2/token', { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=client_credentials&scope=iam%2F'), (a) => a.status === 200));
    loops.push(
      loop(
        'SCIM POST /Users',
        () => request('POST', '/scim/v2/Users', scimHeaders(), JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `soak-${n++}-${randomBytes(3).toString('hex')}@soak.example` })),
        (a) => a.status === 201,
        (a) => written.push((JSON.parse(a.body) as { id: string }).id),
      ),
    );
    loops.push(loop('SCIM GET /Users?filter', () => request('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName eq "soak-0@soak.example"')}`, scimHeaders()), (a) => a.status === 200));
    loops.push(loop('GET /api/users', () => request('GET', '/api/users?limit=50', { authorization: `Bearer ${admin}` }), (a) => a.status === 200));
  }

  log(`mixed traffic for ${SECONDS} s through the balancer (instances on ${aPort} and ${bPort})`);
  await sleep(Math.min(30_000, SECONDS * 100));
  const rssStart = rssMiB(ours.child.process.pid!);
  const events: string[] = [];
  const faultAt = (share: number) => sleep(Math.max(0, SECONDS * 1000 * share - Math.min(30_000, SECONDS * 100)));
  await faultAt(0.3);
  log('kill -9 instance B');
  b.process.kill('SIGKILL');
  bUp = false;
  events.push(`${Math.round(SECONDS * 0.3)} s: instance B killed (SIGKILL), started again 5 s later`);
  await sleep(5000);
  b = await startB();
  bUp = true;
  log('instance B is back');
  await sleep(SECONDS * 1000 * 0.3 - 5000);
  if (ours.restartDatabase) {
    log('PostgreSQL stopped for 5 s');
    events.push(`${Math.round(SECONDS * 0.6)} s: PostgreSQL stopped for 5 s and started again`);
    await ours.restartDatabase(5000);
    log('PostgreSQL is back');
  }
  await sleep(SECONDS * 1000 * 0.4);
  running = false;
  await Promise.all(loops);
  for (const [name, child] of [['A', ours.child], ['B', b]] as const) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) throw new Error(`instance ${name} exited during the soak: ${child.output().slice(-3000)}`);
  }
  const rssEnd = rssMiB(ours.child.process.pid!);

  // Every acknowledged write is there; every user.created reached the receiver.
  log(`checking ${written.length} acknowledged SCIM writes and the webhook deliveries`);
  scimToken = await token('scim.read scim.write', scimAuth);
  let missing = 0;
  for (const id of written) if ((await request('GET', `/scim/v2/Users/${id}`, scimHeaders())).status !== 200) missing++;
  const created = new Set<string>();
  for (let after: string | undefined; ; ) {
    const page = await apiJson('GET', `/api/events?types=user.created&limit=500${after ? `&after=${after}` : ''}`);
    for (const e of page.items as { id: string }[]) created.add(e.id);
    if (!page.hasMore) break;
    after = page.nextCursor;
  }
  const deadline = Date.now() + 120_000;
  while ([...created].some((id) => !delivered.has(id)) && Date.now() < deadline) await sleep(500);
  const undelivered = [...created].filter((id) => !delivered.has(id)).length;

  const m = machine();
  const totalUnexpected = [...routes.values()].reduce((s, r) => s + r.unexpected, 0);
  const rows = [...routes].map(([route, r]) => {
    const s = [...r.latencies].sort((x, y) => x - y);
    return `| ${route} | ${s.length} | ${(s.length / SECONDS).toFixed(0)} | ${percentile(s, 50).toFixed(1)} | ${percentile(s, 99).toFixed(1)} | ${r.unavailable} | ${r.unexpected} |`;
  });
  const rssChange = (rssEnd - rssStart) / rssStart;
  const section = [
    `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — Soak: two instances, kill -9, PostgreSQL restart (\`npm run bench:soak\`)`,
    '',
    `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, ${m.os}; Node ${m.node}.`,
    `- Ours: ${revision()}; ${ours.database}. Two instances (\`node src/server.ts\`) behind a loopback round-robin balancer that retries a refused or dropped connection once on the other instance; ${SECONDS} s of closed-loop traffic, ${LOOPS} loop(s) per kind; a webhook endpoint for \`user.created\` to a loopback receiver.`,
    ...events.map((e) => `- ${e}.`),
    `- Requests the balancer retried on the other instance: ${counters.retried}.`,
    '',
    '| route | ok | per s | p50 (ms) | p99 (ms) | 503 during the outage | unexpected |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `- ${totalUnexpected === 0 ? '✅' : '❌'} unexpected non-2xx: **${totalUnexpected}**${unexpected.length ? ` (${unexpected.slice(0, 5).join('; ')})` : ''} (target 0)`,
    `- ${missing === 0 ? '✅' : '❌'} acknowledged SCIM writes missing afterwards: **${missing}** of ${written.length} (target 0)`,
    `- ${undelivered === 0 ? '✅' : '❌'} \`user.created\` events never delivered: **${undelivered}** of ${created.size} (${deliveries} deliveries, ${deliveries - delivered.size} of them repeats; target 0, at least once)`,
    `- ${rssChange <= 0.1 ? '✅' : '❌'} instance A's RSS: ${rssStart.toFixed(0)} MiB after warm-up, ${rssEnd.toFixed(0)} MiB at the end (**${rssChange >= 0 ? '+' : ''}${(rssChange * 100).toFixed(1)} %**; target: at most 10 % growth; measured without forcing a GC)`,
    '',
  ].join('\n');
  await publishSection(section, log);
  lb.close();
  receiver.close();
  await b.stop();
  await ours.stop();
  await stopAll();
}

runBench(main);
