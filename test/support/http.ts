import type { TestTenant } from './app.ts';

/** A client_credentials token for the tenant's bootstrap client over real HTTP. */
export async function bootstrapTokenHttp(base: string, t: TestTenant, scope = 'iam/'): Promise<string> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64') },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
