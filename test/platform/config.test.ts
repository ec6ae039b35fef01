/** Configuration: one clear line naming the variable and what is wrong. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';

const key = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('defaults: embedded database, single tenant, PUBLIC_URL from PORT', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 3000, DATA_DIR: './.data', TENANCY_MODE: 'single', PUBLIC_URL: 'http://localhost:3000' });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(loadConfig({ PORT: '4100' }).PUBLIC_URL).toBe('http://localhost:4100');
  });

  it.each([
    [{ PORT: 'abc' }, /^Invalid configuration: PORT: .* \(got "abc"\)$/],
    [{ PORT: '70000' }, /^Invalid configuration: PORT: /],
    [{ DATABASE_URL: 'mysql://x/y', MASTER_KEY: key }, /^Invalid configuration: DATABASE_URL: .*\(got "\[redacted\]"\)$/],
    [{ DATABASE_URL: 'postgres://u:p@h/db' }, /^Invalid configuration: MASTER_KEY: required with DATABASE_URL/],
    [{ MASTER_KEY: 'c2hvcnQ=' }, /^Invalid configuration: MASTER_KEY: must be 32 bytes.*\(got "\[redacted\]"\)$/],
    [{ TENANCY_MODE: 'many' }, /^Invalid configuration: TENANCY_MODE: /],
    [{ BOOTSTRAP_CLIENT_SECRET: 'short', BOOTSTRAP_CLIENT_ID: 'boot' }, /^Invalid configuration: BOOTSTRAP_CLIENT_SECRET: at least 32 characters/],
    [{ BOOTSTRAP_CLIENT_SECRET: 'x'.repeat(40) }, /^Invalid configuration: BOOTSTRAP_CLIENT_ID: required when BOOTSTRAP_CLIENT_SECRET is set/],
    [{ PUBLIC_URL: 'ftp://example.com' }, /^Invalid configuration: PUBLIC_URL: /],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL: /],
  ])('%o is refused with one line', (env, message) => {
    let err: unknown;
    try {
      loadConfig(env as NodeJS.ProcessEnv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('empty values count as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).DATABASE_URL).toBeUndefined();
  });
});
