import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, dependencyFailure, problemBody, type ProblemCode, serviceUnavailable } from '../errors.js';
import { type AjvErrorObject, validationSentence } from './validation-messages.js';

export function sendProblem(reply: FastifyReply, err: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
  return reply
    .code(err.status)
    .type('application/problem+json')
    .send(problemBody(err.code, err.detail, err.options.extra));
}

/** Fastify's own error codes for malformed requests, mapped to ours. */
const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_TYPE: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

/**
 * The single mapping from anything thrown to the wire, for the problem+json APIs. Internal
 * detail goes to the log; the wire gets a stable code and a generic message.
 */
export function toApiError(err: unknown, req: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe.validation) {
    const sentence = validationSentence(fe.validation as AjvErrorObject[], fe.validationContext);
    return new ApiError('invalid_request', sentence);
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new ApiError(mapped, mapped === 'invalid_request' ? fe.message : undefined);
  const down = dependencyFailure(err);
  if (down) {
    // Which dependency and why go to the log; the client learns only to come back shortly.
    req.log.warn({ dependency: down, err: (err as Error).message }, `${down} unavailable`);
    return serviceUnavailable();
  }
  if (isDataException(err)) {
    // PostgreSQL refused a value the schemas let through (a NUL byte, a year 0, a malformed id):
    // the input is bad, not the server. The value itself stays out of the log and the wire.
    req.log.warn(
      { sqlstate: (err as { code: string }).code },
      'the database refused a value from the request',
    );
    return new ApiError('invalid_request', 'A value in the request is not valid.');
  }
  if (err instanceof SyntaxError || fe.statusCode === 400) {
    return new ApiError('invalid_request', 'The request body is not valid.');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode === 413 ? 'payload_too_large' : 'invalid_request');
  }
  req.log.error({ err }, 'unhandled error');
  return new ApiError('internal_error');
}

/** SQLSTATE class 22 (data exception), from `pg` or PGlite: a value PostgreSQL cannot store or compare. */
function isDataException(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; severity?: unknown };
  return typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';
}

/**
 * Fastify's `frameworkErrors` option: errors found before routing (a malformed percent-encoding
 * in the path, an over-long path parameter) answered as problem+json like everything else.
 */
export function sendFrameworkError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, toApiError(err, req));
}
