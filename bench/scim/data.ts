/** The benchmark's users: the same for our server (loaded through POST /Users) and the scimmy peer (held in memory). */
export const DOMAINS = 20;
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export function userNameOf(i: number): string {
  return `user${i}@${i % DOMAINS === 0 ? 'corp.example' : `d${i % DOMAINS}.example`}`;
}

/** User i: one of 20 mail domains (every 20th user is at corp.example), a work email, enterprise attributes. */
export function userBody(i: number): Record<string, unknown> {
  const userName = userNameOf(i);
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    userName,
    externalId: `ext-${i}`,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    displayName: `Given${i} Family${i}`,
    active: true,
    emails: [{ value: userName, type: 'work', primary: true }],
    [ENTERPRISE]: { department: `dep${i % 50}`, employeeNumber: String(i) },
  };
}
