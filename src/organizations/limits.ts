/** Bounds of organizations' fields, shared by the rules (service.ts) and the wire format (schemas.ts). */
export const METADATA_MAX_KEYS = 50;
export const METADATA_MAX_KEY_LENGTH = 40;
export const METADATA_MAX_VALUE_LENGTH = 500;
export const MAX_MEMBERSHIP_ROLES = 20;
