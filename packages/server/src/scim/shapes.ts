import { type TSchema, Type } from 'typebox';

/**
 * Response shapes of the SCIM endpoints (each resource's own is in its `resource.ts`). Responses
 * are serialised from these, so nothing but the declared attributes can reach the wire. Every
 * attribute but `id` and `schemas` is optional: `attributes` / `excludedAttributes` may leave it out.
 */

const Str = Type.String();
const opt = <T extends TSchema>(t: T) => Type.Optional(t);

/** `meta` (RFC 7643 §3.1), which every resource carries. */
export const Meta = Type.Object({
  resourceType: opt(Str),
  created: opt(Str),
  lastModified: opt(Str),
  location: opt(Str),
  version: opt(Str),
});

export function ListOf<T extends TSchema>(item: T) {
  return Type.Object({
    schemas: Type.Array(Str),
    totalResults: Type.Integer(),
    startIndex: Type.Integer(),
    itemsPerPage: Type.Integer(),
    Resources: Type.Array(item),
  });
}

const SubAttribute = Type.Object({
  name: Str,
  type: Str,
  multiValued: Type.Boolean(),
  description: Str,
  required: Type.Boolean(),
  caseExact: Type.Boolean(),
  mutability: Str,
  returned: Str,
  uniqueness: Str,
  canonicalValues: opt(Type.Array(Str)),
});

const Attribute = Type.Object({
  ...SubAttribute.properties,
  subAttributes: opt(Type.Array(SubAttribute)),
});

export const SchemaShape = Type.Object({
  schemas: Type.Array(Str),
  id: Str,
  name: Str,
  description: Str,
  attributes: Type.Array(Attribute),
  meta: Meta,
});

export const ResourceTypeShape = Type.Object({
  schemas: Type.Array(Str),
  id: Str,
  name: Str,
  endpoint: Str,
  description: Str,
  schema: Str,
  schemaExtensions: Type.Array(Type.Object({ schema: Str, required: Type.Boolean() })),
  meta: Meta,
});

const Supported = Type.Object({ supported: Type.Boolean() });

export const ServiceProviderConfigShape = Type.Object({
  schemas: Type.Array(Str),
  documentationUri: Str,
  patch: Supported,
  bulk: Type.Object({
    supported: Type.Boolean(),
    maxOperations: Type.Integer(),
    maxPayloadSize: Type.Integer(),
  }),
  filter: Type.Object({ supported: Type.Boolean(), maxResults: Type.Integer() }),
  changePassword: Supported,
  sort: Supported,
  etag: Supported,
  authenticationSchemes: Type.Array(
    Type.Object({ type: Str, name: Str, description: Str, primary: Type.Boolean() }),
  ),
  meta: Meta,
});

const INT_MAX = 2_147_483_647;

export const ListQuery = Type.Object({
  filter: opt(Str),
  startIndex: opt(Type.Integer({ minimum: -INT_MAX, maximum: INT_MAX })),
  count: opt(Type.Integer({ minimum: -INT_MAX, maximum: INT_MAX })),
  attributes: opt(Str),
  excludedAttributes: opt(Str),
  sortBy: opt(Type.String({ maxLength: 200 })),
  sortOrder: opt(Type.String({ maxLength: 20 })),
});

export const ProjectionQuery = Type.Object({ attributes: opt(Str), excludedAttributes: opt(Str) });

export const ScimIdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
