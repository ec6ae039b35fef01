/**
 * The schemas this service provider implements, as data: RFC 7643 §4.1 (User), §4.2 (Group), §4.3 (enterprise
 * extension) and STACKIT's notifications extension. https://www.rfc-editor.org/rfc/rfc7643#section-4
 * The same definitions are served at /Schemas (§7), drive input validation, PATCH paths, filters, and the
 * `returned` characteristic of responses, so what we advertise is what we do.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const NOTIFICATIONS_SCHEMA = 'urn:schwarz:params:scim:schemas:extension:notifications:2.0:User';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

export const ATTRIBUTE_TYPES = ['string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'complex', 'binary'] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';

/** RFC 7643 §7: one attribute definition. */
export interface AttributeDef {
  readonly name: string;
  readonly type: AttributeType;
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: Mutability;
  readonly returned: Returned;
  readonly uniqueness: 'none' | 'server' | 'global';
  readonly canonicalValues?: readonly string[];
  readonly referenceTypes?: readonly string[];
  readonly subAttributes?: readonly AttributeDef[];
  /** Ours, not RFC 7643's: the longest string accepted (indexed values must fit a btree entry). Not in /Schemas. */
  readonly maxLength?: number;
}

export interface SchemaDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly AttributeDef[];
}

type Opts = Partial<Omit<AttributeDef, 'name' | 'type' | 'description'>>;
function attr(name: string, type: AttributeType, description: string, o: Opts = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...(type === 'reference' && !o.referenceTypes ? { referenceTypes: ['external'] } : {}),
    ...o,
  };
}

/** The sub-attributes RFC 7643 §2.4 gives every multi-valued attribute: type, primary, display, value, $ref. */
function multi(name: string, description: string, value: AttributeDef, types: readonly string[] | undefined, extra: AttributeDef[] = []): AttributeDef {
  return attr(name, 'complex', description, {
    multiValued: true,
    subAttributes: [
      value,
      attr('display', 'string', 'A human-readable name, primarily used for display purposes.'),
      attr('type', 'string', 'A label indicating the attribute\'s function.', types ? { canonicalValues: types } : {}),
      attr('primary', 'boolean', 'Indicates the primary or preferred value. At most one value has primary true.'),
      ...extra,
    ],
  });
}

const userSchema: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User, used to sign in. Unique per tenant regardless of case. REQUIRED.', { required: true, uniqueness: 'server', maxLength: 256 }),
    attr('name', 'complex', 'The components of the user\'s real name.', {
      subAttributes: [
        attr('formatted', 'string', 'The full name, including all middle names, titles, and suffixes, formatted for display.'),
        attr('familyName', 'string', 'The family name of the User.'),
        attr('givenName', 'string', 'The given name of the User.'),
        attr('middleName', 'string', 'The middle name(s) of the User.'),
        attr('honorificPrefix', 'string', 'The honorific prefix(es) of the User, e.g. \'Ms.\'.'),
        attr('honorificSuffix', 'string', 'The honorific suffix(es) of the User, e.g. \'III\'.'),
      ],
    }),
    attr('displayName', 'string', 'The name of the User, suitable for display to end-users.'),
    attr('nickName', 'string', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', 'A fully qualified URL pointing to a page representing the User\'s online profile.'),
    attr('title', 'string', 'The user\'s title, such as "Vice President".'),
    attr('userType', 'string', 'Used to identify the relationship between the organization and the user.'),
    attr('preferredLanguage', 'string', 'The User\'s preferred written or spoken language, e.g. \'en\' (RFC 7231 §5.3.5).'),
    attr('locale', 'string', 'The User\'s default location for localization, e.g. \'en-US\'.'),
    attr('timezone', 'string', 'The User\'s time zone in IANA format, e.g. \'America/Los_Angeles\'.'),
    attr('active', 'boolean', 'The User\'s administrative status. false: the user cannot sign in, their sessions end and their refresh tokens are revoked. Unassigned (removed with PATCH): the same as false, and left out of responses.'),
    // /Schemas serves this per tenant: writeOnly when the tenant allows password changes, else immutable (discovery.ts).
    attr('password', 'string', 'Stored as an argon2id hash, never returned. Changeable with PUT/PATCH only where the tenant allows it (changePassword).', {
      mutability: 'writeOnly',
      returned: 'never',
    }),
    multi('emails', 'Email addresses for the user. The primary one (else the first work one, else the first) is the address sign-in uses.', attr('value', 'string', 'Email address for the User.', { maxLength: 320 }), ['work', 'home', 'other']),
    multi('phoneNumbers', 'Phone numbers for the User.', attr('value', 'string', 'Phone number of the User.'), ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multi('ims', 'Instant messaging addresses for the User.', attr('value', 'string', 'Instant messaging address for the User.'), ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multi('photos', 'URLs of photos of the User.', attr('value', 'reference', 'URL of a photo of the User.'), ['photo', 'thumbnail']),
    attr('addresses', 'complex', 'A physical mailing address for this User.', {
      multiValued: true,
      subAttributes: [
        attr('formatted', 'string', 'The full mailing address, formatted for display.'),
        attr('streetAddress', 'string', 'The full street address component.'),
        attr('locality', 'string', 'The city or locality component.'),
        attr('region', 'string', 'The state or region component.'),
        attr('postalCode', 'string', 'The zip code or postal code component.'),
        attr('country', 'string', 'The country name component (ISO 3166-1 alpha-2).'),
        attr('type', 'string', 'A label indicating the attribute\'s function.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Indicates the primary or preferred address.'),
      ],
    }),
    attr('groups', 'complex', 'The groups the user belongs to directly. Read-only: change memberships through /Groups.', {
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        attr('value', 'string', 'The identifier of the User\'s group.', { mutability: 'readOnly' }),
        attr('$ref', 'reference', 'The URI of the corresponding Group resource.', { mutability: 'readOnly', referenceTypes: ['Group'] }),
        attr('display', 'string', 'The displayName of the group.', { mutability: 'readOnly' }),
        attr('type', 'string', 'Membership type: "direct" (nested memberships are not expanded).', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
    }),
    multi('entitlements', 'A list of entitlements for the User.', attr('value', 'string', 'The value of an entitlement.'), undefined),
    multi('roles', 'A list of roles for the User (provisioned values; not the tenant\'s authorization roles).', attr('value', 'string', 'The value of a role.'), undefined),
    multi('x509Certificates', 'A list of certificates issued to the User.', attr('value', 'binary', 'The value of an X.509 certificate (base64 DER).'), undefined),
  ],
};

const groupSchema: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group; unique per tenant regardless of case. REQUIRED.', { required: true, uniqueness: 'server', maxLength: 256 }),
    attr('members', 'complex', 'A list of members of the Group: users, and groups (nesting is stored; memberships are not expanded transitively).', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'Identifier of the member of this Group.', { mutability: 'immutable' }),
        attr('$ref', 'reference', 'The URI corresponding to a SCIM resource that is a member of this Group.', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
        attr('display', 'string', 'The member\'s displayName (read from the member; values sent are ignored).', { mutability: 'readOnly' }),
        attr('type', 'string', 'The type of the member: "User" or "Group".', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

const enterpriseSchema: SchemaDef = {
  id: ENTERPRISE_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.'),
    attr('costCenter', 'string', 'Identifies the name of a cost center.'),
    attr('organization', 'string', 'Identifies the name of an organization.'),
    attr('division', 'string', 'Identifies the name of a division.'),
    attr('department', 'string', 'Identifies the name of a department.'),
    attr('manager', 'complex', 'The User\'s manager. A plain string is accepted as the manager\'s id (Entra ID sends one).', {
      subAttributes: [
        attr('value', 'string', 'The id of the SCIM resource representing the User\'s manager. REQUIRED.'),
        attr('$ref', 'reference', 'The URI of the SCIM resource representing the User\'s manager.', { referenceTypes: ['User'] }),
        attr('displayName', 'string', 'The displayName of the User\'s manager.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

const notificationsSchema: SchemaDef = {
  id: NOTIFICATIONS_SCHEMA,
  name: 'Notifications',
  description: 'Provisioning notifications (STACKIT): whether to invite a user created by provisioning.',
  attributes: [
    attr('sendInvitation', 'boolean', 'true on create: an invitation email is requested for the new user (recorded in invitation_requests until delivery exists). Ignored on later changes.', {
      mutability: 'writeOnly',
      returned: 'never',
    }),
  ],
};

/** The attributes every resource has (RFC 7643 §3.1), for paths, filters and projection; not listed in /Schemas. */
export const COMMON_ATTRIBUTES: readonly AttributeDef[] = [
  attr('id', 'string', 'Unique identifier assigned by the service provider.', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  attr('externalId', 'string', 'Identifier of the resource as defined by the provisioning client.', { caseExact: true, maxLength: 512 }),
  attr('meta', 'complex', 'Resource metadata.', {
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', 'string', 'The name of the resource type.', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', 'When the resource was added.', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', 'When the resource was last changed.', { mutability: 'readOnly' }),
      attr('location', 'reference', 'The URI of the resource.', { caseExact: true, mutability: 'readOnly', referenceTypes: ['uri'] }),
      attr('version', 'string', 'The weak ETag of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

export const SCHEMAS: readonly SchemaDef[] = [userSchema, groupSchema, enterpriseSchema, notificationsSchema];

export interface ResourceTypeDef {
  readonly name: 'User' | 'Group';
  readonly endpoint: '/Users' | '/Groups';
  readonly description: string;
  readonly schema: SchemaDef;
  readonly extensions: readonly { schema: SchemaDef; required: boolean }[];
}

export const USER_TYPE: ResourceTypeDef = {
  name: 'User',
  endpoint: '/Users',
  description: 'User Account',
  schema: userSchema,
  extensions: [
    { schema: enterpriseSchema, required: false },
    { schema: notificationsSchema, required: false },
  ],
};

export const GROUP_TYPE: ResourceTypeDef = { name: 'Group', endpoint: '/Groups', description: 'Group', schema: groupSchema, extensions: [] };

export const RESOURCE_TYPES: readonly ResourceTypeDef[] = [USER_TYPE, GROUP_TYPE];

export function findSchema(urn: string): SchemaDef | undefined {
  const lower = urn.toLowerCase();
  return SCHEMAS.find((s) => s.id.toLowerCase() === lower);
}

/** Case-insensitive lookup (RFC 7643 §2.1: attribute names are case-insensitive). */
export function findAttr(list: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  if (!list) return undefined;
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/** Where an attribute lives: `schema` undefined for core and common attributes, else the extension URN. */
export interface ResolvedAttr {
  readonly extension?: string;
  readonly def: AttributeDef;
}

/**
 * Resolves a top-level attribute name of `type`: a schema-qualified name names its schema; an unqualified name is
 * looked up in the common attributes, then the core schema, then (leniently, as Entra ID sends `department` or
 * `manager` unqualified) the extensions.
 */
export function resolveAttr(type: ResourceTypeDef, name: string, schema?: string): ResolvedAttr | undefined {
  if (schema !== undefined) {
    const lower = schema.toLowerCase();
    if (lower === type.schema.id.toLowerCase()) return optional(findAttr(type.schema.attributes, name) ?? findAttr(COMMON_ATTRIBUTES, name));
    const ext = type.extensions.find((e) => e.schema.id.toLowerCase() === lower);
    const def = ext && findAttr(ext.schema.attributes, name);
    return def ? { extension: ext.schema.id, def } : undefined;
  }
  const core = findAttr(COMMON_ATTRIBUTES, name) ?? findAttr(type.schema.attributes, name);
  if (core) return { def: core };
  for (const ext of type.extensions) {
    const def = findAttr(ext.schema.attributes, name);
    if (def) return { extension: ext.schema.id, def };
  }
  return undefined;
}

const optional = (def: AttributeDef | undefined): ResolvedAttr | undefined => (def ? { def } : undefined);

/** The extension schema of `type` with this URN (case-insensitive), if any. */
export function findExtension(type: ResourceTypeDef, urn: string): SchemaDef | undefined {
  const lower = urn.toLowerCase();
  return type.extensions.find((e) => e.schema.id.toLowerCase() === lower)?.schema;
}
