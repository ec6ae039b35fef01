/** Runs the scimmy peer (scimmy-server.ts) in its own process and measures the same lookups as for our server. */
import { randomBytes } from 'node:crypto';
import { freePort, readyLine, spawnNode, waitUntilReady } from '../lib/children.ts';
import { Client, closedLoop, type Stats } from './http.ts';
import { userNameOf } from './data.ts';

export async function runScimmy(opts: { users: number; seconds: number; ours: { byUserName: Stats; emails1: Stats; emails8: Stats }; log: (l: string) => void }) {
  const port = await freePort();
  const token = randomBytes(24).toString('base64url');
  const child = spawnNode('scimmy', [new URL('./scimmy-server.ts', import.meta.url).pathname], { ...process.env, PORT: String(port), BENCH_USERS: String(opts.users), PEER_TOKEN: token });
  try {
    opts.log(`scimmy peer: loading ${opts.users} users in memory on 127.0.0.1:${port}`);
    await waitUntilReady(child, readyLine(child), 300_000);
    const client = new Client(`http://127.0.0.1:${port}`, 16);
    const auth = { authorization: `Bearer ${token}` };
    const probe = await client.request({ method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userNameOf(7)}"`)}`, headers: auth });
    if (probe.status !== 200 || !probe.body.includes('"totalResults":1')) throw new Error(`scimmy peer probe: ${probe.status} ${probe.body.slice(0, 300)}`);
    const rnd = () => Math.floor(Math.random() * opts.users);
    const byUserName = await closedLoop(client, 'scimmy: GET /Users?filter=userName eq "…"', { connections: 8, seconds: opts.seconds, warmupSeconds: 2 }, () => ({ method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userNameOf(rnd())}"`)}`, headers: auth }), (res) => res.status === 200 && res.body.includes('"totalResults":1'));
    const emailPath = `/scim/v2/Users?filter=${encodeURIComponent('emails[type eq "work" and value ew "@corp.example"]')}&count=100`;
    const emails1 = await closedLoop(client, 'scimmy: GET /Users?filter=emails[…]&count=100', { connections: 1, seconds: opts.seconds, warmupSeconds: 1 }, () => ({ method: 'GET', path: emailPath, headers: auth }));
    const emails8 = await closedLoop(client, 'scimmy: GET /Users?filter=emails[…]&count=100', { connections: 8, seconds: opts.seconds, warmupSeconds: 1 }, () => ({ method: 'GET', path: emailPath, headers: auth }));
    client.close();
    const ratio = (o: Stats, p: Stats) => `${(p.p50 / o.p50).toFixed(1)}× lower p50, ${(o.rps / p.rps).toFixed(1)}× the throughput`;
    const f = (s: Stats) => `| ${s.name} | ${s.connections} | ${s.requests} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.non2xx + s.errors} |`;
    const lines = [
      `Side by side with a SCIM server on the npm packages scimmy 1.3.5 + scimmy-routers 1.3.2 (Express 5; bench/scim/scimmy-server.ts) holding the same ${opts.users.toLocaleString('en')} users in memory, in its own process while ours sat idle (same machine, same load generator; SCIMMY filters, sorts and pages in memory):`,
      '',
      '| request | conns | requests | req/s | p50 | p90 | p99 | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      f(byUserName),
      f(emails1),
      f(emails8),
      '',
      `Ours vs scimmy: userName lookup ${ratio(opts.ours.byUserName, byUserName)}; emails filter at 1 connection ${ratio(opts.ours.emails1, emails1)}; at 8 connections ${ratio(opts.ours.emails8, emails8)}.`,
    ];
    return { lines, raw: { byUserName, emails1, emails8 } };
  } finally {
    await child.stop();
  }
}
