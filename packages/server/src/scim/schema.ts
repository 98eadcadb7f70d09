/**
 * The SCIM schemas Latchkey serves (RFC 7643 §4, §7): one definition that the discovery
 * endpoints publish, PATCH resolves attribute names against, and projection follows.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const LATCHKEY_USER_SCHEMA = 'urn:latchkey:params:scim:schemas:extension:latchkey:2.0:User';
export const LATCHKEY_GROUP_SCHEMA = 'urn:latchkey:params:scim:schemas:extension:latchkey:2.0:Group';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export type AttrType = 'string' | 'boolean' | 'dateTime' | 'reference' | 'complex';

export interface AttrDef {
  readonly name: string;
  readonly type: AttrType;
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: 'readOnly' | 'readWrite' | 'immutable';
  readonly returned: 'always' | 'default';
  readonly uniqueness: 'none' | 'server';
  readonly canonicalValues?: readonly string[];
  readonly subAttributes?: readonly AttrDef[];
}

export interface SchemaDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly AttrDef[];
}

/** A resource type: its core schema and the extensions its resources may carry. */
export interface ResourceSchema {
  readonly name: 'User' | 'Group';
  readonly endpoint: '/Users' | '/Groups';
  readonly core: SchemaDef;
  readonly extensions: readonly SchemaDef[];
}

function attr(name: string, description: string, o: Partial<AttrDef> = {}): AttrDef {
  return {
    name,
    type: 'string',
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...o,
  };
}

const readOnly = { mutability: 'readOnly' } as const;

/** `id`, `externalId` and `meta` (RFC 7643 §3.1), which every resource has. */
const COMMON: readonly AttrDef[] = [
  attr('id', 'Unique identifier of the resource, issued by Latchkey.', {
    ...readOnly,
    caseExact: true,
    returned: 'always',
    uniqueness: 'server',
  }),
  attr('externalId', "The identity provider's identifier for the resource.", { caseExact: true }),
  attr('meta', 'Resource metadata.', {
    ...readOnly,
    type: 'complex',
    subAttributes: [
      attr('resourceType', 'The resource type.', { ...readOnly, caseExact: true }),
      attr('created', 'When the resource was created.', { ...readOnly, type: 'dateTime' }),
      attr('lastModified', 'When the resource last changed.', { ...readOnly, type: 'dateTime' }),
      attr('location', 'The URI of the resource.', { ...readOnly, type: 'reference', caseExact: true }),
      attr('version', 'The entity tag of the resource.', { ...readOnly, caseExact: true }),
    ],
  }),
];

export const USER: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'A person who is, or was, a member of the organisation.',
  attributes: [
    ...COMMON,
    attr('userName', "The person's email address; their Latchkey account is the one with this email.", {
      required: true,
      uniqueness: 'server',
    }),
    attr('name', 'The components of the name.', {
      type: 'complex',
      subAttributes: [
        attr('formatted', 'The full name.'),
        attr('familyName', 'The family name.'),
        attr('givenName', 'The given name.'),
      ],
    }),
    attr('displayName', 'The name to show.'),
    attr('emails', 'Email addresses.', {
      type: 'complex',
      multiValued: true,
      subAttributes: [
        attr('value', 'The address.'),
        attr('type', 'work, home or other.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'Whether this is the primary address.', { type: 'boolean' }),
      ],
    }),
    attr('active', 'false removes the person from the organisation; true restores them.', {
      type: 'boolean',
    }),
    attr('groups', 'The groups the person is in.', {
      ...readOnly,
      type: 'complex',
      multiValued: true,
      subAttributes: [
        attr('value', 'The id of the group.', { ...readOnly, caseExact: true }),
        attr('display', 'The name of the group.', readOnly),
        attr('type', 'direct', readOnly),
      ],
    }),
  ],
};

export const GROUP: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'A group of users of the organisation, optionally mapped to a role.',
  attributes: [
    ...COMMON,
    attr('displayName', 'The name of the group, unique in the organisation.', {
      required: true,
      uniqueness: 'server',
    }),
    attr('members', 'The users in the group.', {
      type: 'complex',
      multiValued: true,
      subAttributes: [
        attr('value', 'The id of a User.', { caseExact: true, mutability: 'immutable' }),
        attr('display', 'The userName of the member.', readOnly),
        attr('type', 'User', { ...readOnly, canonicalValues: ['User'] }),
      ],
    }),
  ],
};

const MAPPABLE = ['admin', 'member', 'billing'] as const;

export const LATCHKEY_USER: SchemaDef = {
  id: LATCHKEY_USER_SCHEMA,
  name: 'LatchkeyUser',
  description: 'Latchkey attributes of a user.',
  attributes: [
    attr('role', "The person's role in the organisation; null while inactive.", {
      ...readOnly,
      canonicalValues: ['owner', ...MAPPABLE],
    }),
  ],
};

export const LATCHKEY_GROUP: SchemaDef = {
  id: LATCHKEY_GROUP_SCHEMA,
  name: 'LatchkeyGroup',
  description: 'Latchkey attributes of a group.',
  attributes: [
    attr('role', "The role the group's members get (the highest of their groups wins); null maps none.", {
      canonicalValues: MAPPABLE,
    }),
  ],
};

export const USER_RESOURCE: ResourceSchema = {
  name: 'User',
  endpoint: '/Users',
  core: USER,
  extensions: [LATCHKEY_USER],
};

export const GROUP_RESOURCE: ResourceSchema = {
  name: 'Group',
  endpoint: '/Groups',
  core: GROUP,
  extensions: [LATCHKEY_GROUP],
};

export const SCHEMAS: readonly SchemaDef[] = [USER, GROUP, LATCHKEY_USER, LATCHKEY_GROUP];

/** An attribute (or sub-attribute) of `defs` by name, case-insensitively. */
export function findAttr(defs: readonly AttrDef[] | undefined, name: string): AttrDef | undefined {
  const n = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === n);
}

/** The extension of `rs` whose URN is `uri`, case-insensitively. */
export function findExtension(rs: ResourceSchema, uri: string): SchemaDef | undefined {
  const u = uri.toLowerCase();
  return rs.extensions.find((e) => e.id.toLowerCase() === u);
}

/** An extension seen as one complex attribute whose sub-attributes are the extension's attributes. */
export function extensionAsAttr(ext: SchemaDef): AttrDef {
  return attr(ext.id, ext.description, { type: 'complex', subAttributes: ext.attributes });
}
