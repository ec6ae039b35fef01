/**
 * A small closed-loop load generator over node:http with keep-alive: `connections` loops, each sending its next
 * request when the previous answer arrived, timed with a monotonic clock to the microsecond (autocannon rounds to
 * whole milliseconds, too coarse for the 5 ms target). Loopback only.
 */
import http from 'node:http';

export interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Res {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export class Client {
  readonly #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;
  constructor(base: string, maxSockets: number) {
    const u = new URL(base);
    this.#host = u.hostname;
    this.#port = Number(u.port);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets });
  }
  request(r: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.#host, port: this.#port, method: r.method, path: r.path, agent: this.#agent, headers: { ...(r.body ? { 'content-length': Buffer.byteLength(r.body) } : {}), ...r.headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (r.body) req.write(r.body);
      req.end();
    });
  }
  close() {
    this.#agent.destroy();
  }
}

export interface Stats {
  name: string;
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function stats(name: string, connections: number, latencies: number[], seconds: number, non2xx: number, errors: number): Stats {
  const s = [...latencies].sort((a, b) => a - b);
  return { name, connections, requests: s.length, seconds, rps: s.length / seconds, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.at(-1) ?? NaN, non2xx, errors };
}

/**
 * Runs `connections` loops for `seconds` (or until `maxRequests`), each calling `next(i)` for its request.
 * `check` decides whether an answer counts as a success (default: 2xx).
 */
export async function closedLoop(
  client: Client,
  name: string,
  opts: { connections: number; seconds: number; maxRequests?: number; warmupSeconds?: number },
  next: (n: number) => Req,
  check: (res: Res) => boolean = (res) => res.status >= 200 && res.status < 300,
): Promise<Stats> {
  let n = 0;
  if (opts.warmupSeconds) {
    const until = performance.now() + opts.warmupSeconds * 1000;
    await Promise.all(Array.from({ length: opts.connections }, async () => {
      while (performance.now() < until) await client.request(next(n++)).catch(() => {});
    }));
  }
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  const until = start + opts.seconds * 1000;
  const max = opts.maxRequests ?? Infinity;
  let sent = 0;
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (performance.now() < until && sent < max) {
        sent++;
        const req = next(n++);
        const t0 = performance.now();
        try {
          const res = await client.request(req);
          latencies.push(performance.now() - t0);
          if (!check(res)) {
            non2xx++;
            if (non2xx <= 3) console.error(`${name}: ${res.status} ${res.body.slice(0, 300)}`);
          }
        } catch (e) {
          errors++;
          if (errors <= 3) console.error(`${name}: ${(e as Error).message}`);
        }
      }
    }),
  );
  return stats(name, opts.connections, latencies, (performance.now() - start) / 1000, non2xx, errors);
}
