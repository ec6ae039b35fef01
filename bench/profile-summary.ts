/**
 * `node bench/profile-summary.ts FILE.cpuprofile [TOP] [FROM_US TO_US]`: self and inclusive time by origin, the
 * src/ functions' inclusive time and the top self-time functions of a V8 CPU profile, as markdown tables.
 * FROM_US/TO_US (monotonic µs, e.g. `windows` in bench/results/token-*.json) keep only the measured load.
 * `BENCH_PROFILE=1 npm run bench:token` prints the same for each target.
 */
import { formatSummary, summarize } from './lib/cpuprofile.ts';

const [file, top, from, to] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.ts FILE.cpuprofile [TOP] [FROM_US TO_US]\n');
  process.exit(2);
}
process.stdout.write(formatSummary(await summarize(file, top ? Number(top) : 25, from && to ? { fromUs: Number(from), toUs: Number(to) } : undefined)) + '\n');
