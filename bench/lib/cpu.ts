/**
 * Who used the CPU during a measured window (Linux /proc; elsewhere every figure is undefined): the target's
 * process tree, PostgreSQL's process tree, the load generator (this process) and everything else on the machine.
 * On a small machine this is what explains the numbers: a saturated load generator caps the ceiling, and a
 * database on the same cores takes CPU away from the server.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // the Linux default
}

interface Stat {
  ppid: number;
  /** user + system, in seconds */
  cpu: number;
}

function readStats(): Map<number, Stat> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  const stats = new Map<number, Stat>();
  for (const e of entries) {
    try {
      const raw = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name is in parentheses and may contain spaces: parse after the last ')'.
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(e), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / clkTck });
    } catch {
      // exited meanwhile
    }
  }
  return stats;
}

function treeCpu(stats: Map<number, Stat>, root: number | undefined): number | undefined {
  if (root === undefined || !stats.has(root)) return undefined;
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    total += stats.get(pid)?.cpu ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

interface MachineCpu {
  /** user + nice + system: time processes ran (and the kernel on their behalf) */
  processes: number;
  /** irq + softirq (on loopback, much of the network stack) + steal (time the hypervisor gave elsewhere) */
  kernel: number;
  total: number;
}

function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu  user nice system idle iowait irq softirq steal (guest time is already in user)
    const v = line.trim().split(/\s+/).slice(1, 9).map((x) => Number(x) / clkTck);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
    return { processes: user + nice + system, kernel: irq + softirq + steal, total: v.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

interface Snapshot {
  at: bigint;
  target?: number;
  db?: number;
  self: number;
  machine?: MachineCpu;
}

function snapshot(targetPid: number | undefined, dbPid: number | undefined): Snapshot {
  const stats = readStats();
  const self = process.cpuUsage();
  return {
    at: process.hrtime.bigint(),
    target: stats && treeCpu(stats, targetPid),
    db: stats && treeCpu(stats, dbPid),
    self: (self.user + self.system) / 1e6,
    machine: machineCpu(),
  };
}

/** CPU use over a window, in cores (CPU-seconds per second). */
export interface CpuUse {
  seconds: number;
  target?: number;
  db?: number;
  loadGenerator: number;
  /** Every other process on the machine (e.g. someone else's build): high values mean noisy numbers. */
  other?: number;
  /** Interrupt and softirq time (loopback networking runs much of its work there) plus steal. */
  kernel?: number;
  /** Cores the machine has (from /proc/stat's total time). */
  capacity?: number;
}

export function startCpuWindow(targetPid: number | undefined, dbPid: number | undefined): () => CpuUse {
  const a = snapshot(targetPid, dbPid);
  return () => {
    const b = snapshot(targetPid, dbPid);
    const seconds = Number(b.at - a.at) / 1e9;
    // A process that exits inside the window takes its CPU time out of the tree: never report below zero.
    const rate = (x?: number, y?: number) => (x === undefined || y === undefined ? undefined : Math.max(0, (y - x) / seconds));
    const target = rate(a.target, b.target);
    const db = rate(a.db, b.db);
    const loadGenerator = (b.self - a.self) / seconds;
    const processes = rate(a.machine?.processes, b.machine?.processes);
    const kernel = rate(a.machine?.kernel, b.machine?.kernel);
    const capacity = rate(a.machine?.total, b.machine?.total);
    const other = processes === undefined ? undefined : Math.max(0, processes - (target ?? 0) - (db ?? 0) - loadGenerator);
    return { seconds, target, db, loadGenerator, other, kernel, capacity };
  };
}
