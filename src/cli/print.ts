import type { CreatedTenant } from '../tenancy/tenants.global.ts';

/** Writes new credentials straight to the terminal (stdout), bypassing the logger: they must not reach log storage. */
export function printCredentials(created: CreatedTenant, opts: { generated: boolean }): void {
  const lines = [
    '',
    '================ Bootstrap machine client (shown once) ================',
    `tenant:         ${created.tenant.slug} (${created.tenant.issuer})`,
    `token endpoint: ${created.tenant.issuer}/oauth2/token`,
    `client_id:      ${created.clientId}`,
    opts.generated ? `client_secret:  ${created.clientSecret}` : 'client_secret:  (as given in BOOTSTRAP_CLIENT_SECRET)',
    'scope:          iam/',
    'Store the secret now: only its hash is kept, and it is never printed again.',
    '=======================================================================',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
