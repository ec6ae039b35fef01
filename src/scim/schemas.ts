/**
 * zod for the SCIM wire format, as documentation for OpenAPI/Scalar. Validation of resources is schema-driven
 * (schema/validate.ts) because SCIM attribute names are case-insensitive and clients have dialects, so these schemas
 * are deliberately loose: they describe, with examples, and accept anything object-shaped.
 */
import { z } from 'zod';
import { ENTERPRISE_SCHEMA, ERROR_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE, NOTIFICATIONS_SCHEMA, PATCH_OP, SEARCH_REQUEST, USER_SCHEMA, BULK_REQUEST } from './schema/definitions.ts';

export const idParams = z.object({ id: z.string().min(1).max(256).describe('The resource id. For Users, a userName is accepted too (case-insensitive) when no id matches.') });

const listText = (what: string) => z.string().max(4096).optional().describe(what);

export const listQuery = z.looseObject({
  filter: z.string().optional().describe('RFC 7644 §3.4.2.2 filter, e.g. `userName eq "bjensen"` or `emails[type eq "work" and value ew "@example.com"]`.'),
  sortBy: listText('Attribute to sort by, e.g. `userName` or `meta.lastModified`.'),
  sortOrder: z.string().optional().describe('`ascending` (default) or `descending`.'),
  startIndex: z.string().optional().describe('1-based index of the first result (default 1).'),
  count: z.string().optional().describe('Page size, 0 to 1000 (default 100). 0 returns totalResults only; above 1000 is 400 tooMany.'),
  attributes: listText('Comma-separated attributes to return (plus id and schemas).'),
  excludedAttributes: listText('Comma-separated attributes to leave out, e.g. `members`.'),
});

export const getQuery = z.looseObject({
  attributes: listText('Comma-separated attributes to return (plus id and schemas).'),
  excludedAttributes: listText('Comma-separated attributes to leave out, e.g. `members`.'),
});

export const conditionalHeaders = z.looseObject({
  'if-match': z.string().optional().describe('W/"<version>" from meta.version or ETag: the change is made only if the resource is still at that version (412 otherwise).'),
});
export const getHeaders = z.looseObject({
  'if-none-match': z.string().optional().describe('W/"<version>": 304 Not Modified when the resource is still at that version.'),
});

const resource = (example: Record<string, unknown>, description: string) => z.looseObject({ schemas: z.array(z.string()).optional() }).describe(description).meta({ examples: [example] });

export const userExample = {
  schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA, NOTIFICATIONS_SCHEMA],
  userName: 'bjensen@example.com',
  externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  displayName: 'Barbara Jensen',
  active: true,
  emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
  [ENTERPRISE_SCHEMA]: { department: 'Sales', manager: { value: '2819c223-7f76-453a-919d-413861904646' } },
  [NOTIFICATIONS_SCHEMA]: { sendInvitation: true },
};

export const userBody = resource(userExample, `A User (${USER_SCHEMA}), optionally with the enterprise and notifications extensions. password is accepted on create only.`);
export const groupExample = { schemas: [GROUP_SCHEMA], displayName: 'Sales', externalId: 'sales', members: [{ value: '2819c223-7f76-453a-919d-413861904646' }] };
export const groupBody = resource(groupExample, `A Group (${GROUP_SCHEMA}).`);

export const patchBody = z
  .looseObject({})
  .describe('RFC 7644 §3.5.2 PatchOp: {"schemas": ["…PatchOp"], "Operations": [{"op", "path"?, "value"?}]}. Entra ID and Okta dialects are accepted (capitalized ops, "True"/"False", no-path replace with dotted keys).')
  .meta({
    examples: [
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
      { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: '2819c223-7f76-453a-919d-413861904646' }] }] },
      { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members[value eq "2819c223-7f76-453a-919d-413861904646"]' }] },
    ],
  });

export const searchBody = z
  .looseObject({})
  .describe('RFC 7644 §3.4.3 SearchRequest.')
  .meta({ examples: [{ schemas: [SEARCH_REQUEST], filter: 'userName sw "b"', startIndex: 1, count: 10, attributes: ['userName', 'emails'] }] });

export const bulkBody = z
  .looseObject({})
  .describe('RFC 7644 §3.7 BulkRequest; bulkId references ("bulkId:<id>") resolve to resources created earlier in the request.')
  .meta({
    examples: [
      {
        schemas: [BULK_REQUEST],
        failOnErrors: 1,
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName: 'alice@example.com' } },
          { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP_SCHEMA], displayName: 'Team', members: [{ value: 'bulkId:u1' }] } },
        ],
      },
    ],
  });

export const resourceResponse = z.looseObject({ schemas: z.array(z.string()), id: z.string().optional() }).describe('The resource, with meta (location, version, created, lastModified).');
export const listResponseSchema = z
  .looseObject({ schemas: z.array(z.string()), totalResults: z.number(), startIndex: z.number().optional(), itemsPerPage: z.number().optional(), Resources: z.array(z.looseObject({})).optional() })
  .describe(`${LIST_RESPONSE}`);
export const scimErrorResponse = z
  .object({ schemas: z.array(z.string()), status: z.string(), scimType: z.string().optional(), detail: z.string() })
  .describe('RFC 7644 §3.12 error; status is a string.')
  .meta({ examples: [{ schemas: [ERROR_SCHEMA], status: '409', scimType: 'uniqueness', detail: 'A user with this userName already exists in this tenant.' }] });

export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, scimErrorResponse]));
export const noContent = z.null().describe('No content.');
