import { MAX_COUNT } from './limits.js';
import {
  type AttrDef,
  GROUP_RESOURCE,
  type ResourceSchema,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SCHEMAS,
  type SchemaDef,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  USER_RESOURCE,
} from './schema.js';

/** The discovery documents (RFC 7644 §4): what this service provider supports, from the schema definitions. */

export function serviceProviderConfig(base: string, docs: string) {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: docs,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: "The organisation's SCIM secret (lk_scim_…), from POST /api/v1/org/scim/token.",
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export const RESOURCES: readonly ResourceSchema[] = [USER_RESOURCE, GROUP_RESOURCE];

export function resourceType(rs: ResourceSchema, base: string) {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: rs.name,
    name: rs.name,
    endpoint: rs.endpoint,
    description: rs.core.description,
    schema: rs.core.id,
    schemaExtensions: rs.extensions.map((e) => ({ schema: e.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${rs.name}` },
  };
}

function attribute(a: AttrDef): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    description: a.description,
    required: a.required,
    caseExact: a.caseExact,
    mutability: a.mutability,
    returned: a.returned,
    uniqueness: a.uniqueness,
    ...(a.canonicalValues ? { canonicalValues: [...a.canonicalValues] } : {}),
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(attribute) } : {}),
  };
}

/** A schema as RFC 7643 §7 describes it; `id`, `externalId` and `meta` are common attributes, not listed. */
export function schemaDocument(s: SchemaDef, base: string) {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes.filter((a) => !['id', 'externalId', 'meta'].includes(a.name)).map(attribute),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  };
}

export { SCHEMAS };
