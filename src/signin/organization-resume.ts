/**
 * How a sign-in says "this happened through organization X's connection" (ADR 0009): the authorization request it
 * resumes gets `organization_id=X`, and the authorization endpoint does the rest (the user must be a member of X;
 * the code, tokens and userinfo carry `org_id` and `org_roles`). The URL is the `return_to` the sign-in was started
 * with. A request that already names an organization keeps it: the client's explicit request wins, and the membership
 * check at the endpoint decides.
 */
export function resumeInOrganization(returnTo: string, organizationId: string): string {
  const url = new URL(returnTo, 'http://relative.invalid');
  // Only the authorization request has an organization context; any other page is returned to as it is.
  if (url.pathname !== '/oauth2/authorize') return returnTo;
  if (!url.searchParams.has('organization_id')) url.searchParams.set('organization_id', organizationId);
  return url.origin === 'http://relative.invalid' ? `${url.pathname}${url.search}` : url.toString();
}
