/** RFC 7644 §3.12: how errors from below become SCIM errors (the mapping itself, without HTTP). */
import { describe, expect, it } from 'vitest';
import { toScimError } from '../../src/scim/errors.ts';

describe('RFC 7644 §3.12 toScimError', () => {
  it('a deadlock or serialization failure (also wrapped, as Drizzle wraps driver errors) is 409, retryable, not 500', () => {
    for (const code of ['40P01', '40001']) {
      const wrapped = Object.assign(new Error('Failed query'), { cause: Object.assign(new Error('deadlock detected'), { code }) });
      const e = toScimError(wrapped);
      expect(e.status).toBe(409);
      expect(e.body()).toMatchObject({ status: '409', detail: expect.stringContaining('retry') });
    }
    expect(toScimError(Object.assign(new Error('x'), { code: '42P01' })).status).toBe(500);
  });
});
