/**
 * `npm run bench:directory-paging` — the Directory API's keyset pages at 100,000 directory users (issue #12 item 4:
 * fetching page 1,000 costs within 2× of page 1).
 *
 * 1. Starts this service (bench/lib/ours.ts) and, through /api, an organization with a directory and its SCIM token.
 * 2. Loads BENCH_USERS users into the directory: BENCH_SCIM_USERS of them through the directory's SCIM endpoint (the
 *    real write path), the rest with one INSERT … SELECT generate_series as the database owner (the same columns,
 *    partition and triggers; a SCIM load of 100,000 would only time the load).
 * 3. Walks every page of GET /api/directories/{id}/users?page_size=100 once, following next_page_token, and reports
 *    the latency of the first and last ten pages.
 * 4. Measures, closed loop on one connection for BENCH_SECONDS each: page 1, page 1,000 (the token the walk got for
 *    it), and for comparison the same two positions with offset paging — SCIM's startIndex on the directory's own
 *    SCIM endpoint (`/Users?startIndex=99901&count=100`), which is how SCIM clients page and what keyset replaces.
 * 5. Prints a markdown section and appends it to docs/benchmarks.md (BENCH_DOCS=0 to skip).
 *
 * Settings: BENCH_USERS (100000), BENCH_SCIM_USERS (500), BENCH_PAGE_SIZE (100), BENCH_SECONDS (8), BENCH_DOCS (on).
 */
import pg from 'pg';
import { startOurs } from './lib/ours.ts';
import { stopAll } from './lib/children.ts';
import { machine, publishSection, revision } from './lib/report.ts';
import { Client, closedLoop, type Stats } from './scim/http.ts';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const USERS = env('BENCH_USERS', 100_000);
const SCIM_USERS = Math.min(env('BENCH_SCIM_USERS', 500), USERS);
const PAGE = env('BENCH_PAGE_SIZE', 100);
const SECONDS = env('BENCH_SECONDS', 8);
const log = (line: string) => console.error(`[bench:directory-paging] ${line}`);

async function main() {
  const ours = await startOurs({ log });
  try {
    const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(ours.clientId)}:${encodeURIComponent(ours.clientSecret)}`).toString('base64');
    const tok = await fetch(`${ours.baseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'iam/' }) });
    const admin = ((await tok.json()) as { access_token: string }).access_token;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${ours.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, any>>;
    };
    const org = await api('POST', '/api/organizations', { displayName: 'Bench Corp' });
    const dir = await api('POST', `/api/organizations/${org.id}/directories`, { displayName: 'Bench Entra ID', provider: 'entra' });
    const scimToken = (await api('POST', `/api/directories/${dir.id}/tokens`, {})).token as string;
    const scimBase = `/directories/${dir.id}/scim/v2`;
    const client = new Client(ours.baseUrl, 8);

    log(`loading ${SCIM_USERS} users through SCIM`);
    const t0 = performance.now();
    const load = await closedLoop(client, 'POST /Users (directory SCIM)', { connections: 8, seconds: 3600, maxRequests: SCIM_USERS }, (n) => ({
      method: 'POST',
      path: `${scimBase}/Users`,
      headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `scim-${n}@bench.example`, name: { givenName: 'S', familyName: String(n) }, emails: [{ value: `scim-${n}@bench.example`, type: 'work', primary: true }] }),
    }));
    if (load.non2xx || load.errors) throw new Error('SCIM load failed');
    log(`SCIM load: ${load.rps.toFixed(0)} users/s`);

    log(`loading ${USERS - SCIM_USERS} users with one INSERT … SELECT`);
    const db = new pg.Client({ connectionString: ours.databaseUrl });
    await db.connect();
    const { rows } = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM directories WHERE id = $1', [dir.id]);
    const tenantId = rows[0]!.tenant_id;
    db.on('error', (e) => log(`database connection: ${e.message}`));
    // In batches: the login-identifier trigger takes two advisory locks per row, held to the end of the transaction.
    const BATCH = 5000;
    for (let from = 1; from <= USERS - SCIM_USERS; from += BATCH) {
      await db.query(
        `INSERT INTO users (tenant_id, directory_id, user_name, user_name_key, email, email_key, given_name, family_name, attributes, created_at, updated_at)
         SELECT $1, $2, 'bulk-' || g || '@bench.example', 'bulk-' || g || '@bench.example', 'bulk-' || g || '@bench.example', 'bulk-' || g || '@bench.example', 'B', g::text,
                jsonb_build_object('emails', jsonb_build_array(jsonb_build_object('value', 'bulk-' || g || '@bench.example', 'type', 'work', 'primary', true))), now(), now()
         FROM generate_series($3::int, $4::int) AS g`,
        [tenantId, dir.id, from, Math.min(from + BATCH - 1, USERS - SCIM_USERS)],
      );
    }
    await db.query('ANALYZE users');
    await db.end();
    log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const auth = { authorization: `Bearer ${admin}` };
    const listPath = (token?: string) => `/api/directories/${dir.id}/users?page_size=${PAGE}${token ? `&page_token=${token}` : ''}`;
    // The walk: every page once, in order.
    const walk: number[] = [];
    const tokens: (string | undefined)[] = [undefined];
    let next: string | undefined;
    let seen = 0;
    do {
      const t = performance.now();
      const res = await client.request({ method: 'GET', path: listPath(next), headers: auth });
      walk.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`page ${walk.length}: ${res.status} ${res.body.slice(0, 200)}`);
      const body = JSON.parse(res.body) as { users: unknown[]; next_page_token: string | null };
      seen += body.users.length;
      next = body.next_page_token ?? undefined;
      if (next) tokens.push(next);
    } while (next);
    if (seen !== USERS) throw new Error(`walked ${seen} users, expected ${USERS}`);
    const pages = walk.length;
    const lastPage = Math.min(1000, pages);
    log(`walked ${pages} pages`);

    const measure = (name: string, path: string, headers: Record<string, string>) => closedLoop(client, name, { connections: 1, seconds: SECONDS, warmupSeconds: 1 }, () => ({ method: 'GET', path, headers }));
    const scimAuth = { authorization: `Bearer ${scimToken}` };
    const results: Stats[] = [
      await measure(`Directory API page 1 (keyset)`, listPath(tokens[0]), auth),
      await measure(`Directory API page ${lastPage} (keyset)`, listPath(tokens[lastPage - 1]), auth),
      await measure(`SCIM /Users page 1 (offset: startIndex=1)`, `${scimBase}/Users?startIndex=1&count=${PAGE}`, scimAuth),
      await measure(`SCIM /Users page ${lastPage} (offset: startIndex=${(lastPage - 1) * PAGE + 1})`, `${scimBase}/Users?startIndex=${(lastPage - 1) * PAGE + 1}&count=${PAGE}`, scimAuth),
    ];
    client.close();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const keysetRatio = results[1]!.p50 / results[0]!.p50;
    const offsetRatio = results[3]!.p50 / results[2]!.p50;
    const m = machine();
    const ms = (v: number) => v.toFixed(2);
    const text = [
      `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — Directory API paging at ${USERS.toLocaleString('en')} directory users`,
      '',
      `- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, ${m.memory} RAM, ${m.os}; Node ${m.node}.`,
      `- Ours: commit ${revision()}; ${ours.database}. ${SCIM_USERS} users written through the directory's SCIM endpoint (${load.rps.toFixed(0)} users/s at 8 connections), the rest by one INSERT … SELECT into the same partition.`,
      `- Page size ${PAGE}; closed loop, 1 connection, ${SECONDS} s per row after 1 s of warm-up, loopback. Full walk: ${pages} pages, first ten ${ms(mean(walk.slice(0, 10)))} ms mean, last ten ${ms(mean(walk.slice(-10)))} ms mean.`,
      '',
      '| request | req/s | p50 (ms) | p90 (ms) | p99 (ms) | non-2xx |',
      '|---|---:|---:|---:|---:|---:|',
      ...results.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${r.non2xx + r.errors} |`),
      '',
      `- ${keysetRatio <= 2 ? '✅' : '❌'} keyset: page ${lastPage} / page 1 = **${keysetRatio.toFixed(2)}×** p50 (target ≤ 2×)`,
      `- ℹ️ offset (SCIM startIndex, for comparison): page ${lastPage} / page 1 = **${offsetRatio.toFixed(2)}×** p50`,
      '',
    ].join('\n');
    await publishSection(text, log);
  } finally {
    await ours.stop();
    await stopAll();
  }
}

await main();
