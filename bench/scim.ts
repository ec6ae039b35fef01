/**
 * `npm run bench:scim` — the SCIM 2.0 service provider at 100,000 users (issue #5's benchmark).
 *
 * 1. Starts this service (bench/lib/ours.ts: `node src/server.ts` in its own process on a fresh database of the
 *    embedded PostgreSQL, or DATABASE_URL's server) and gets a SCIM token with client_credentials + HTTP Basic.
 * 2. Loads the tenant through the API: BENCH_USERS users with POST /Users (that run is the POST-rate measurement),
 *    BENCH_GROUPS groups with POST /Groups, one of them grown to BENCH_BIG_GROUP members with PATCH add (1,000 per
 *    request) and one with 10 members.
 * 3. Measures, closed loop over loopback (bench/scim/http.ts, microsecond timing):
 *    - GET /Users?filter=userName eq "…" (a random existing user) at 8 connections;
 *    - GET /Users?filter=emails[type eq "work" and value ew "@corp.example"]&count=100 at 1 and 8 connections;
 *    - PATCH adding one member to the big group vs to the 10-member group (alternating, one connection);
 *    - GET /Groups/{big}?excludedAttributes=members at 1 and 8 connections.
 *    - GET /Users?filter=emails co "…" (a substring naming one random user; pg_trgm index) at 1 and 8 connections.
 *    With BENCH_ONLY=emails-co only the users are loaded and only `emails co` is measured: with the trigram index,
 *    then again after dropping it (the plan before migration scim_emails_trigram), so the ratio comes from one load.
 * 4. Optionally (BENCH_SCIMMY=1) the same lookups against a SCIM server built on the npm packages scimmy +
 *    scimmy-routers (bench/scim/scimmy-peer.ts) holding the same users in memory, and the ratio.
 * 5. Prints a markdown section and appends it to docs/benchmarks.md (BENCH_DOCS=0 to skip).
 *
 * Settings: BENCH_USERS (100000), BENCH_GROUPS (1000), BENCH_BIG_GROUP (50000), BENCH_SECONDS (10 per lookup),
 * BENCH_LOAD_CONNECTIONS (16), BENCH_SCIMMY (off), BENCH_ONLY (unset, or emails-co), BENCH_DOCS (on), DATABASE_URL
 * (embedded PostgreSQL when unset).
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { startOurs, type OursTarget } from './lib/ours.ts';
import { stopAll } from './lib/children.ts';
import { machine, publishSection, revision } from './lib/report.ts';
import { Client, closedLoop, stats, type Stats } from './scim/http.ts';
import { DOMAINS, userBody, userNameOf } from './scim/data.ts';
import pg from 'pg';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const USERS = env('BENCH_USERS', 100_000);
const GROUPS = env('BENCH_GROUPS', 1000);
const BIG = Math.min(env('BENCH_BIG_GROUP', 50_000), USERS - 1000);
const SECONDS = env('BENCH_SECONDS', 10);
const LOAD_CONNECTIONS = env('BENCH_LOAD_CONNECTIONS', 16);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'emails-co') throw new Error(`BENCH_ONLY must be emails-co, not ${ONLY}`);
const log = (line: string) => console.error(`[bench:scim] ${line}`);

async function token(ours: OursTarget): Promise<string> {
  const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  const form = (auth: string, scope: string) =>
    fetch(`${ours.baseUrl}/oauth2/token`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', scope }) });
  const admin = ((await (await form(basic(ours.clientId, ours.clientSecret), 'iam/')).json()) as { access_token: string }).access_token;
  const secret = 'b'.repeat(43);
  const put = await fetch(`${ours.baseUrl}/api/downstream/MachineClient/bench-scim`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'SCIM benchmark', allowedScopes: ['scim.read', 'scim.write'], clientSecret: secret }),
  });
  if (put.status !== 201) throw new Error(`creating the SCIM client: ${put.status} ${await put.text()}`);
  const res = await form(basic('bench-scim', secret), 'scim.read scim.write');
  if (res.status !== 200) throw new Error(`SCIM token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) : '—';
}

function row(s: Stats, target: string, pass: boolean | undefined): string {
  return `| ${s.name} | ${s.connections} | ${s.requests} | ${s.rps.toFixed(0)} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${s.non2xx + s.errors} | ${target} | ${pass === undefined ? '' : pass ? 'yes' : '**no**'} |`;
}

async function main() {
  const started = new Date();
  const profileDir = new URL('./results/profiles/', import.meta.url).pathname;
  const ours = await startOurs({ log, ...(process.env.BENCH_PROFILE === '1' ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}) });
  const results: Record<string, unknown> = {};
  try {
    const scim = await token(ours);
    const auth = { authorization: `Bearer ${scim}` };
    const json = { ...auth, 'content-type': 'application/scim+json' };
    const client = new Client(ours.baseUrl, 64);
    const ids: string[] = new Array(USERS);

    // 2. Load users through POST /Users: this run is the POST-rate measurement.
    log(`loading ${USERS} users with POST /Users at ${LOAD_CONNECTIONS} connections`);
    let created = 0;
    const post = await closedLoop(
      client,
      'POST /Users (loading the tenant)',
      { connections: LOAD_CONNECTIONS, seconds: 3600, maxRequests: USERS },
      (n) => ({ method: 'POST', path: '/scim/v2/Users', headers: json, body: JSON.stringify(userBody(n)) }),
      (res) => {
        if (res.status !== 201) return false;
        const body = JSON.parse(res.body) as { id: string; externalId: string };
        ids[Number(body.externalId.slice(4))] = body.id;
        if (++created % 10_000 === 0) log(`${created} users`);
        return true;
      },
    );
    log(`POST /Users: ${post.rps.toFixed(0)}/s, p50 ${fmt(post.p50)} ms`);

    // `emails co "er<i>@"` names exactly user<i> (a substring long enough for trigrams).
    const emailsCo = (connections: number, label = '') =>
      closedLoop(
        client,
        `GET /Users?filter=emails co "er…@"${label}`,
        { connections, seconds: SECONDS, warmupSeconds: 1 },
        () => ({ method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(`emails co "er${Math.floor(Math.random() * USERS)}@"`)}`, headers: auth }),
        (res) => res.status === 200 && res.body.includes('"totalResults":1'),
      );
    if (ONLY === 'emails-co') {
      const co1 = await emailsCo(1);
      const co8 = await emailsCo(8);
      const db = new pg.Client({ connectionString: ours.databaseUrl });
      await db.connect();
      await db.query('DROP INDEX user_emails_value_lc_trgm_idx');
      await db.query('ANALYZE user_emails');
      await db.end();
      const scan1 = await emailsCo(1, ' without the trigram index');
      const scan8 = await emailsCo(8, ' without the trigram index');
      client.close();
      const m = machine();
      const text = [
        `## SCIM \`emails co\` at ${USERS.toLocaleString('en')} users (\`BENCH_ONLY=emails-co npm run bench:scim\`) — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        '',
        `Machine: ${m.nproc} cores (${m.cpu}), ${m.memory}, ${m.os}, Node ${m.node}. Database: ${ours.database}. Commit ${revision()}. ` +
          'Users loaded through POST /Users; the same load measured with the pg_trgm index (migration scim_emails_trigram), then after DROP INDEX (the plan before it).',
        '',
        '| request | conns | requests | req/s | p50 | p90 | p99 | errors | target | met |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
        row(post, '≥ 500/s sustained', post.rps >= 500),
        row(co1, 'p50 < 50 ms', co1.p50 < 50),
        row(co8, 'p50 < 50 ms', co8.p50 < 50),
        row(scan1, '(before: sequential scan)', undefined),
        row(scan8, '(before: sequential scan)', undefined),
        '',
        `With the index, p50 is ${(scan1.p50 / co1.p50).toFixed(1)}× lower at 1 connection and ${(scan8.p50 / co8.p50).toFixed(1)}× lower at 8.`,
        '',
      ].join('\n');
      await publishSection(text, log);
      return;
    }

    // Groups: the big one (index 0), a 10-member one (index 1), the rest with 10 members each.
    log(`creating ${GROUPS} groups`);
    const groupIds: string[] = [];
    const groupLoad = await closedLoop(
      client,
      'POST /Groups',
      { connections: 8, seconds: 3600, maxRequests: GROUPS },
      (n) => ({
        method: 'POST',
        path: '/scim/v2/Groups?excludedAttributes=members',
        headers: json,
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `group-${n}`, externalId: `g-${n}`, members: n === 0 ? [] : Array.from({ length: 10 }, (_, k) => ({ value: ids[BIG + ((n * 10 + k) % (USERS - BIG))] })) }),
      }),
      (res) => {
        if (res.status !== 201) return false;
        const body = JSON.parse(res.body) as { id: string; externalId: string };
        groupIds[Number(body.externalId.slice(2))] = body.id;
        return true;
      },
    );
    const big = groupIds[0]!;
    const small = groupIds[1]!;
    log(`growing group-0 to ${BIG} members (PATCH add, 1,000 per request)`);
    const t0 = performance.now();
    for (let from = 0; from < BIG; from += 1000) {
      const res = await client.request({
        method: 'PATCH',
        path: `/scim/v2/Groups/${big}`,
        headers: json,
        body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: ids.slice(from, Math.min(BIG, from + 1000)).map((value) => ({ value })) }] }),
      });
      if (res.status !== 204) throw new Error(`growing the big group: ${res.status} ${res.body}`);
    }
    const growMs = performance.now() - t0;
    const check = await client.request({ method: 'GET', path: `/scim/v2/Users?count=0`, headers: auth });
    const total = (JSON.parse(check.body) as { totalResults: number }).totalResults;
    log(`tenant: ${total} users; group-0 grown in ${(growMs / 1000).toFixed(1)} s`);

    // 3. Lookups.
    const rnd = () => Math.floor(Math.random() * USERS);
    const lookup = () => ({ method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userNameOf(rnd())}"`)}`, headers: auth });
    const byUserName1 = await closedLoop(client, 'GET /Users?filter=userName eq "…"', { connections: 1, seconds: SECONDS, warmupSeconds: 2 }, lookup, (res) => res.status === 200 && res.body.includes('"totalResults":1'));
    const byUserName = await closedLoop(
      client,
      'GET /Users?filter=userName eq "…"',
      { connections: 8, seconds: SECONDS, warmupSeconds: 2 },
      () => ({ method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userNameOf(rnd())}"`)}`, headers: auth }),
      (res) => res.status === 200 && res.body.includes('"totalResults":1'),
    );
    const emailFilter = `/scim/v2/Users?filter=${encodeURIComponent('emails[type eq "work" and value ew "@corp.example"]')}&count=100`;
    const corpCount = (JSON.parse((await client.request({ method: 'GET', path: emailFilter, headers: auth })).body) as { totalResults: number }).totalResults;
    const emails1 = await closedLoop(client, 'GET /Users?filter=emails[type eq "work" and value ew "@corp.example"]&count=100', { connections: 1, seconds: SECONDS, warmupSeconds: 1 }, () => ({ method: 'GET', path: emailFilter, headers: auth }));
    const emails8 = await closedLoop(client, 'GET /Users?filter=emails[type eq "work" and value ew "@corp.example"]&count=100', { connections: 8, seconds: SECONDS, warmupSeconds: 1 }, () => ({ method: 'GET', path: emailFilter, headers: auth }));
    const co1 = await emailsCo(1);
    const co8 = await emailsCo(8);

    // PATCH adding one member: alternating between the big and the 10-member group, one connection, distinct users.
    const addBig: number[] = [];
    const addSmall: number[] = [];
    const spare = (k: number) => ids[BIG + 100 + k]!; // not in the big group, nor among group-1's ten (BIG+10…BIG+19)
    const adds = Math.min(300, Math.floor((USERS - BIG - 100) / 2));
    for (let k = 0; k < adds; k++) {
      for (const [gid, out, user] of [
        [big, addBig, spare(2 * k)],
        [small, addSmall, spare(2 * k + 1)],
      ] as const) {
        const t = performance.now();
        const res = await client.request({ method: 'PATCH', path: `/scim/v2/Groups/${gid}`, headers: json, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user }] }] }) });
        out.push(performance.now() - t);
        if (res.status !== 204) throw new Error(`PATCH add: ${res.status} ${res.body}`);
      }
    }
    const patchBig = stats(`PATCH add 1 member to the ${BIG + adds}-member group`, 1, addBig, addBig.reduce((a, b) => a + b, 0) / 1000, 0, 0);
    const patchSmall = stats('PATCH add 1 member to a 10-member group', 1, addSmall, addSmall.reduce((a, b) => a + b, 0) / 1000, 0, 0);
    const groupPath = `/scim/v2/Groups/${big}?excludedAttributes=members`;
    const group1 = await closedLoop(client, `GET /Groups/{${BIG}-member group}?excludedAttributes=members`, { connections: 1, seconds: SECONDS, warmupSeconds: 1 }, () => ({ method: 'GET', path: groupPath, headers: auth }));
    const group8 = await closedLoop(client, `GET /Groups/{${BIG}-member group}?excludedAttributes=members`, { connections: 8, seconds: SECONDS, warmupSeconds: 1 }, () => ({ method: 'GET', path: groupPath, headers: auth }));
    const fullGroup = await closedLoop(client, `GET /Groups/{${BIG}-member group} (all members)`, { connections: 1, seconds: SECONDS }, () => ({ method: 'GET', path: `/scim/v2/Groups/${big}`, headers: auth }));
    client.close();

    let scimmy: { lines: string[]; raw: unknown } | undefined;
    if (process.env.BENCH_SCIMMY === '1') {
      const { runScimmy } = await import('./scim/scimmy-peer.ts');
      scimmy = await runScimmy({ users: USERS, seconds: SECONDS, ours: { byUserName, emails1, emails8 }, log });
    }

    const ratio = patchBig.p50 / patchSmall.p50;
    const m = machine();
    const lines = [
      `## SCIM 2.0 at ${USERS.toLocaleString('en')} users (\`npm run bench:scim\`) — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${m.nproc} cores (${m.cpu}), ${m.memory}, ${m.os}, Node ${m.node}. Database: ${ours.database}. Commit ${revision()}. ` +
        'Server, PostgreSQL and the load generator share the machine; loopback HTTP with keep-alive; latencies in ms, timed to the microsecond.',
      '',
      `Data, loaded through the API: ${total.toLocaleString('en')} users (POST /Users, ${LOAD_CONNECTIONS} connections; each with a work email at one of ${DOMAINS} domains, ` +
        `so ${corpCount.toLocaleString('en')} are at corp.example; name, displayName, externalId, enterprise department/employeeNumber), ` +
        `${GROUPS.toLocaleString('en')} groups (POST /Groups with 10 members each, ${groupLoad.rps.toFixed(0)}/s), one grown to ${BIG.toLocaleString('en')} members by 1,000-member PATCH adds in ${(growMs / 1000).toFixed(1)} s.`,
      '',
      '| request | conns | requests | req/s | p50 | p90 | p99 | errors | target | met |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
      row(post, '≥ 500/s sustained', post.rps >= 500),
      row(byUserName1, '(one connection, for the latency of one request)', undefined),
      row(byUserName, 'p50 < 5 ms at 8 conns', byUserName.p50 < 5),
      row(emails1, 'p50 < 50 ms', emails1.p50 < 50),
      row(emails8, 'p50 < 50 ms', emails8.p50 < 50),
      row(co1, 'p50 < 50 ms', co1.p50 < 50),
      row(co8, 'p50 < 50 ms', co8.p50 < 50),
      row(patchSmall, '', undefined),
      row(patchBig, `≤ 2× the 10-member group (${ratio.toFixed(2)}×)`, ratio <= 2),
      row(group1, 'p50 < 10 ms', group1.p50 < 10),
      row(group8, 'p50 < 10 ms', group8.p50 < 10),
      row(fullGroup, '(for scale: the whole member list)', undefined),
      '',
      ...(scimmy ? scimmy.lines : ['scimmy comparison: not run in this section (BENCH_SCIMMY=1).']),
      '',
    ];
    const text = lines.join('\n');
    Object.assign(results, { post, groupLoad, growMs, total, corpCount, byUserName1, byUserName, emails1, emails8, co1, co8, patchBig, patchSmall, group1, group8, fullGroup, scimmy: scimmy?.raw });
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL(`./results/scim-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url), JSON.stringify(results, null, 2));
    await publishSection(text, log);
  } finally {
    await ours.stop();
    await stopAll();
  }
}

const deadline = setTimeout(() => {
  log('deadline reached; stopping');
  process.exit(1);
}, env('BENCH_DEADLINE_SECONDS', 3600) * 1000);
deadline.unref();

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
