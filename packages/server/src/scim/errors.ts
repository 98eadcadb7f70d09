import { ApiError } from '../errors.js';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** The `scimType` values of RFC 7644 §3.12 that Latchkey answers. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue';

/**
 * Every error the SCIM endpoints answer, by a stable code, with its HTTP status and the
 * `scimType` RFC 7644 §3.12 defines for it (none for the plain HTTP ones).
 */
export const SCIM_ERRORS = {
  invalid_filter: { status: 400, scimType: 'invalidFilter' },
  too_many: { status: 400, scimType: 'tooMany' },
  invalid_syntax: { status: 400, scimType: 'invalidSyntax' },
  invalid_path: { status: 400, scimType: 'invalidPath' },
  no_target: { status: 400, scimType: 'noTarget' },
  invalid_value: { status: 400, scimType: 'invalidValue' },
  mutability: { status: 400, scimType: 'mutability' },
  bad_request: { status: 400, scimType: null },
  unauthorized: { status: 401, scimType: null },
  forbidden: { status: 403, scimType: null },
  not_found: { status: 404, scimType: null },
  uniqueness: { status: 409, scimType: 'uniqueness' },
  precondition_failed: { status: 412, scimType: null },
  payload_too_large: { status: 413, scimType: null },
  uri_too_long: { status: 414, scimType: null },
  unsupported_media_type: { status: 415, scimType: null },
  rate_limited: { status: 429, scimType: null },
  internal_error: { status: 500, scimType: null },
  unavailable: { status: 503, scimType: null },
} as const satisfies Record<string, { status: number; scimType: ScimType | null }>;

export type ScimErrorCode = keyof typeof SCIM_ERRORS;

/** A typed SCIM error. Thrown anywhere below a SCIM route; written to the wire only by `sendScimError`. */
export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | null;
  constructor(
    readonly code: ScimErrorCode,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
    this.status = SCIM_ERRORS[code].status;
    this.scimType = SCIM_ERRORS[code].scimType;
  }
}

export const FROM_API: Partial<Record<ApiError['code'], ScimErrorCode>> = {
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  org_forbidden: 'forbidden',
  csrf: 'forbidden',
  not_found: 'not_found',
  method_not_allowed: 'not_found',
  payload_too_large: 'payload_too_large',
  uri_too_long: 'uri_too_long',
  unsupported_media_type: 'unsupported_media_type',
  rate_limited: 'rate_limited',
  unavailable: 'unavailable',
  service_unavailable: 'unavailable',
  internal_error: 'internal_error',
};

export function scimErrorBody(e: ScimError) {
  return {
    schemas: [ERROR_SCHEMA],
    status: String(e.status),
    ...(e.scimType ? { scimType: e.scimType } : {}),
    detail: e.detail,
  };
}
