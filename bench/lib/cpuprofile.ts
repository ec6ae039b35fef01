/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per origin (a package in
 * node_modules, a file under src/, Node internals, or V8's own buckets such as GC and idle).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { REPO_ROOT } from './children.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  where: string;
  origin: string;
  selfMs: number;
  share: number;
}

export interface Summary {
  totalMs: number;
  /** Total minus idle: the time the thread was busy. */
  busyMs: number;
  functions: Entry[];
  origins: Array<{ origin: string; selfMs: number; share: number }>;
  /** Time with a frame of this origin anywhere on the stack (each sample counted once per origin). */
  inclusiveOrigins: Array<{ origin: string; ms: number; share: number }>;
  /** Time with this function of src/ anywhere on the stack: where the service's own code spends, callees included. */
  inclusiveSrc: Array<{ name: string; where: string; ms: number; share: number }>;
}

const root = fileURLToPath(REPO_ROOT);

export function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  // node:internal/crypto/util → node:internal/crypto; node:events → node:events
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? file);
  }
  return relative(file);
}

/** Relative to the repository; a profile from another checkout still shows `src/…`. */
function relative(file: string): string {
  const rel = path.relative(root, file);
  if (!rel.startsWith('..')) return rel;
  const src = file.lastIndexOf('/src/');
  return src >= 0 ? file.slice(src + 1) : file;
}

function shortPath(url: string): string {
  return relative(url.startsWith('file://') ? fileURLToPath(url) : url);
}

/** A window of the monotonic clock, in microseconds (process.hrtime.bigint() / 1000 in another process). */
export interface Window {
  fromUs: number;
  toUs: number;
}

/**
 * With `window`, only samples taken inside it count (V8 stamps samples with the same monotonic clock as
 * process.hrtime on Linux, so a window measured by the load generator selects the loaded period and leaves out
 * start-up and warm-up). `windowed` in the result says whether the window matched any samples.
 */
export async function summarize(file: string, top = 25, window?: Window): Promise<Summary & { windowed: boolean }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const tally = (inWindow: (t: number) => boolean) => {
    const self = new Map<number, number>();
    let t = profile.startTime;
    // timeDeltas[i] is the time before sample i; attribute it to the sample's node (as Chrome DevTools does).
    for (let i = 0; i < profile.samples.length; i++) {
      const delta = profile.timeDeltas[i] ?? 0;
      t += delta;
      if (!inWindow(t)) continue;
      const id = profile.samples[i]!;
      self.set(id, (self.get(id) ?? 0) + delta);
    }
    return self;
  };
  let selfUs = window ? tally((t) => t >= window.fromUs && t <= window.toUs) : new Map<number, number>();
  const windowed = selfUs.size > 0;
  if (!windowed) selfUs = tally(() => true);
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incOrigins = new Map<string, number>();
  const incSrc = new Map<string, { name: string; where: string; ms: number }>();
  for (const [id, us] of selfUs) {
    const seenOrigins = new Set<string>();
    const seenFns = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const cf = byId.get(at)!.callFrame;
      if (cf.functionName === '(root)' || cf.functionName === '(idle)') continue;
      const o = origin(cf.url, cf.functionName || '(anonymous)');
      seenOrigins.add(o);
      if (o.startsWith('src/')) {
        const key = `${cf.functionName}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`;
        if (!seenFns.has(key)) {
          seenFns.add(key);
          const e = incSrc.get(key) ?? { name: cf.functionName || '(anonymous)', where: `${shortPath(cf.url)}:${cf.lineNumber + 1}`, ms: 0 };
          e.ms += us / 1000;
          incSrc.set(key, e);
        }
      }
    }
    for (const o of seenOrigins) incOrigins.set(o, (incOrigins.get(o) ?? 0) + us / 1000);
  }
  const fns = new Map<string, Omit<Entry, 'share'>>();
  const origins = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame: cf } = byId.get(id)!;
    total += us;
    if (cf.functionName === '(idle)') idle += us;
    const name = cf.functionName || '(anonymous)';
    const o = origin(cf.url, name);
    const where = cf.url ? `${cf.url.startsWith('file:') ? shortPath(cf.url) : cf.url}:${cf.lineNumber + 1}` : '';
    const key = `${name}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`;
    const e = fns.get(key) ?? { name, where, origin: o, selfMs: 0 };
    e.selfMs += us / 1000;
    fns.set(key, e);
    origins.set(o, (origins.get(o) ?? 0) + us / 1000);
  }
  const totalMs = total / 1000;
  const busyMs = (total - idle) / 1000;
  const share = (x: number) => (busyMs ? x / busyMs : 0);
  return {
    windowed,
    totalMs,
    busyMs,
    functions: [...fns.values()]
      .filter((e) => e.name !== '(idle)')
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((e) => ({ ...e, share: share(e.selfMs) })),
    origins: [...origins.entries()]
      .filter(([o]) => o !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([o, selfMs]) => ({ origin: o, selfMs, share: share(selfMs) })),
    inclusiveOrigins: [...incOrigins.entries()].sort((a, b) => b[1] - a[1]).map(([o, ms]) => ({ origin: o, ms, share: share(ms) })),
    inclusiveSrc: [...incSrc.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((e) => ({ ...e, share: share(e.ms) })),
  };
}

export function formatSummary(s: Summary & { windowed?: boolean }, topOrigins = 15): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const scope = s.windowed ? 'during the measured load' : 'over the whole process lifetime (start-up included)';
  const lines = [
    `Profile ${scope}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy (${pct(s.totalMs ? s.busyMs / s.totalMs : 0)}); shares are of busy time.`,
    '',
    '| self time by origin | ms | share |',
    '|---|---:|---:|',
    ...s.origins.slice(0, topOrigins).map((o) => `| ${o.origin} | ${o.selfMs.toFixed(0)} | ${pct(o.share)} |`),
    '',
    '| inclusive time by origin (callees included) | ms | share |',
    '|---|---:|---:|',
    ...s.inclusiveOrigins.slice(0, topOrigins).map((o) => `| ${o.origin} | ${o.ms.toFixed(0)} | ${pct(o.share)} |`),
    '',
    ...(s.inclusiveSrc.length
      ? [
          '| inclusive time of src/ functions | where | ms | share |',
          '|---|---|---:|---:|',
          ...s.inclusiveSrc.map((f) => `| ${f.name} | ${f.where} | ${f.ms.toFixed(0)} | ${pct(f.share)} |`),
          '',
        ]
      : []),
    '| top self-time functions | where | ms | share |',
    '|---|---|---:|---:|',
    ...s.functions.map((f) => `| ${f.name} | ${f.where} | ${f.selfMs.toFixed(0)} | ${pct(f.share)} |`),
  ];
  return lines.join('\n');
}
