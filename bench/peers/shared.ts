/** Shared by the orchestrator and the peer processes: settings come from the environment the orchestrator sets. */
export function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`${name} is required\n`);
    process.exit(2);
  }
  return v;
}

/** Peers listen on loopback only. */
export const HOST = '127.0.0.1';

/** Tells the orchestrator (which reads stdout) that the peer is listening. */
export function announceReady(port: number): void {
  process.stdout.write(`READY ${port}\n`);
}

/** The oidc-provider peer's one resource server and scope (the orchestrator requests the same scope). */
export const OIDC_PROVIDER_RESOURCE = 'https://api.bench.invalid/';
export const OIDC_PROVIDER_SCOPE = 'api:read';
