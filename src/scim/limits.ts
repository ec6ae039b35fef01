/** Limits advertised in /ServiceProviderConfig and enforced by the routes; one place so the two cannot drift. */

/** RFC 7644 §3.7.3 bulk.maxOperations: more operations in one /Bulk request is 413. */
export const BULK_MAX_OPERATIONS = 1000;
/** RFC 7644 §3.7.3 bulk.maxPayloadSize, in bytes: a larger /Bulk body is 413. */
export const BULK_MAX_PAYLOAD_BYTES = 1_048_576;
/** Any other SCIM body (a PUT of a 50,000-member group is about 3 MB). Larger is 413. */
export const RESOURCE_MAX_PAYLOAD_BYTES = 4 * 1_048_576;
/** Members accepted in one PUT/POST of a group or one PATCH operation. */
export const MAX_MEMBERS_PER_REQUEST = 60_000;
