/** The audit trail keeps facts about secrets and never the secrets themselves. */
import { expect, it } from 'vitest';
import { redactSecrets } from '../../src/audit/service.ts';

it('redacts credential values, keeps metadata about them', () => {
  const out = redactSecrets({
    clientSecret: 'abc',
    clientSecretSealed: 'xyz',
    clientSecretSet: true,
    clientSecretExpiresAt: new Date('2027-01-01T00:00:00Z'),
    accessTokenLifetime: 600,
    tokenSigningAlg: 'RS256',
    secretCount: 2,
    passwordHash: '$argon2id$…',
    nested: { refresh_token: 'r', jwk: { d: 'private-part', x: 'public' } },
  });
  expect(out).toEqual({
    clientSecret: '[redacted]',
    clientSecretSealed: '[redacted]',
    clientSecretSet: true,
    clientSecretExpiresAt: '2027-01-01T00:00:00.000Z',
    accessTokenLifetime: 600,
    tokenSigningAlg: 'RS256',
    secretCount: 2,
    passwordHash: '[redacted]',
    nested: { refresh_token: '[redacted]', jwk: { d: '[redacted]', x: 'public' } },
  });
});
