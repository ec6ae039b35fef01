/** The committed migrations are exactly what the schema generates: drizzle-kit finds nothing to add. */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { migrationsFolder } from '../../src/platform/db.ts';

it('drizzle-kit generate reports no schema changes against the committed migrations', async () => {
  // drizzle-kit only takes an output folder relative to the working directory.
  await mkdir('.data', { recursive: true });
  const out = path.relative(process.cwd(), await mkdtemp(path.join('.data', 'migration-check-')));
  try {
    await cp(migrationsFolder, out, { recursive: true });
    const before = await readdir(out);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['node_modules/drizzle-kit/bin.cjs', 'generate', '--dialect', 'postgresql', '--schema', './src/db/schema/index.ts', '--out', out],
      { timeout: 60_000 },
    );
    expect(stdout).toContain('No schema changes');
    expect(await readdir(out)).toEqual(before);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 90_000);
