import { Type } from 'typebox';

/**
 * The error bodies Latchkey answers, as response schemas. Each allows extension members
 * (`additionalProperties`), so serialising through it never drops a field a problem carries.
 */

/** RFC 9457 problem details, as `/api/v1` and `/api/auth` answer them (`http/errors.ts`). */
export const ProblemShape = Type.Object(
  {
    type: Type.String({ description: '`urn:latchkey:problem:<code>`' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable error code: match on this, never on `detail`.' }),
    detail: Type.Optional(Type.String({ description: 'What went wrong, as a sentence.' })),
  },
  {
    additionalProperties: true,
    examples: [
      {
        type: 'urn:latchkey:problem:invalid_request',
        title: 'Invalid request',
        status: 400,
        code: 'invalid_request',
        detail: '`role` must be one of owner, admin, member, billing.',
      },
    ],
  },
);

/** RFC 6749 §5.2 (and RFC 6750 §3, RFC 7591 §3.2.2) error responses of the OAuth endpoints. */
export const OAuthErrorShape = Type.Object(
  {
    error: Type.String({ description: 'RFC 6749 error code, e.g. `invalid_grant`.' }),
    error_description: Type.Optional(Type.String()),
  },
  {
    additionalProperties: true,
    examples: [{ error: 'invalid_grant', error_description: 'The code is not valid.' }],
  },
);

/** RFC 7644 §3.12 SCIM errors. */
export const ScimErrorShape = Type.Object(
  {
    schemas: Type.Array(Type.String()),
    status: Type.String(),
    scimType: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

/** A response entry for `schema.response` that is documented (and serialised) under one media type. */
export function mediaResponse(description: string, mediaType: string, schema: object) {
  return { description, content: { [mediaType]: { schema } } };
}

export const PROBLEM_RESPONSES = {
  '4xx': mediaResponse(
    'The request was refused (RFC 9457 problem).',
    'application/problem+json',
    ProblemShape,
  ),
  '5xx': mediaResponse(
    'The server could not answer (RFC 9457 problem).',
    'application/problem+json',
    ProblemShape,
  ),
};

export const OAUTH_ERROR_RESPONSES = {
  '4xx': mediaResponse('RFC 6749 error.', 'application/json', OAuthErrorShape),
  '5xx': mediaResponse('RFC 6749 error.', 'application/json', OAuthErrorShape),
};

export const SCIM_ERROR_RESPONSES = {
  '4xx': mediaResponse('RFC 7644 error.', 'application/scim+json', ScimErrorShape),
  '5xx': mediaResponse('RFC 7644 error.', 'application/scim+json', ScimErrorShape),
};
