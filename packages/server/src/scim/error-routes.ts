import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isUniqueViolation } from '../db/errors.js';
import { toApiError } from '../http/errors.js';
import { FROM_API, SCIM_CONTENT_TYPE, ScimError, scimErrorBody } from './errors.js';

// The wire side of SCIM's errors: what the SCIM scope's error handler sends (RFC 7644 §3.12).

/**
 * The single mapping from anything thrown below a SCIM route to an RFC 7644 error. Problems the
 * shared hooks raise (rate limit, body limit, media type) keep their HTTP status; anything
 * unexpected is logged and leaves as a 500 that says nothing.
 */
export function toScimError(err: unknown, req: FastifyRequest): ScimError {
  if (err instanceof ScimError) return err;
  if (isUniqueViolation(err)) return new ScimError('uniqueness', 'The resource already exists.');
  const fe = err as Partial<FastifyError> & { validationContext?: string };
  if (fe.validation) {
    return fe.validationContext === 'body'
      ? new ScimError('invalid_syntax', 'The request body is not a valid SCIM message.')
      : new ScimError('invalid_value', `A ${fe.validationContext ?? 'request'} parameter is not valid.`);
  }
  const api = toApiError(err, req);
  const headers = api.options.headers ?? {};
  const mapped = FROM_API[api.code];
  if (mapped) return new ScimError(mapped, api.detail ?? api.message, headers);
  // Everything else toApiError calls invalid: a body that does not parse, a value PostgreSQL refused.
  const unparsable = err instanceof SyntaxError || (fe.code?.startsWith('FST_ERR_CTP_') ?? false);
  return new ScimError(
    unparsable ? 'invalid_syntax' : 'invalid_value',
    api.detail ?? 'The request is not valid.',
    headers,
  );
}

export function sendScimError(reply: FastifyReply, e: ScimError): FastifyReply {
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  return reply.code(e.status).type(SCIM_CONTENT_TYPE).send(scimErrorBody(e));
}
