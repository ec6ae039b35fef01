/**
 * Child processes for the benchmark targets: spawned with this same Node binary, output kept (bounded) for error
 * reports, and every one tracked so that `stopAll` can end them on success, on error, on a signal and on the
 * global deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export const REPO_ROOT = new URL('../../', import.meta.url);

export interface Child {
  name: string;
  process: ChildProcess;
  /** The last ~64 KiB of stdout and stderr, interleaved. */
  output(): string;
  /** Resolves with the exit code (or the signal name) when the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  stop(graceMs?: number): Promise<number | string>;
}

const live = new Set<Child>();
const OUTPUT_LIMIT = 64 * 1024;

export function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    proc.once('error', (err) => {
      keep(Buffer.from(`spawn error: ${err.message}\n`));
      live.delete(child);
      resolve('spawn-error');
    });
  });
  const child: Child = {
    name,
    process: proc,
    output: () => out,
    exited,
    async stop(graceMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  live.add(child);
  return child;
}

export async function stopAll(graceMs?: number): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(graceMs)));
}

/** Runs a bench's `main`; on failure prints the error, stops every child and exits 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch(async (err) => {
    console.error(err);
    await stopAll();
    process.exit(1);
  });
}

/** Synchronous last resort (process 'exit', deadline): SIGKILL whatever is still running. */
export function killAllNow(): void {
  for (const c of live) c.process.kill('SIGKILL');
}

export class ChildFailed extends Error {}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Fails with the child's recent output when it exits before `ready` resolves, or after `timeoutMs`. */
export async function waitUntilReady(child: Child, ready: (signal: AbortSignal) => Promise<void>, timeoutMs: number): Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready(abort.signal),
      child.exited.then((code) => {
        throw new ChildFailed(`${child.name} exited (${code}) before it was ready. Its output:\n${tail(child.output())}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ChildFailed(`${child.name} was not ready after ${timeoutMs / 1000} s. Its output:\n${tail(child.output())}`)), timeoutMs);
      }),
    ]);
  } finally {
    abort.abort();
    clearTimeout(timer);
  }
}

/** Resolves when the child prints `READY` (the peers' announcement). */
export function readyLine(child: Child): (signal: AbortSignal) => Promise<void> {
  return (signal) =>
    new Promise<void>((resolve) => {
      if (/^READY\b/m.test(child.output())) return resolve();
      const onData = () => {
        if (/^READY\b/m.test(child.output())) {
          child.process.stdout!.off('data', onData);
          resolve();
        }
      };
      child.process.stdout!.on('data', onData);
      signal.addEventListener('abort', () => child.process.stdout!.off('data', onData));
    });
}

/** Resolves when GET `url` answers 200 (polled every 200 ms). */
export function httpOk(url: string): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    while (!signal.aborted) {
      try {
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) });
        await res.body?.cancel();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
