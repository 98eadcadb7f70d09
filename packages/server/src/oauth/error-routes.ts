import type { FastifyReply, FastifyRequest } from 'fastify';
import { toApiError } from '../http/errors.js';
import { fromApiError, OAuthError } from './errors.js';

// The wire side of OAuth's errors: what the OAuth and OpenID Connect scopes' error handlers send.

/** The single mapping from anything thrown below an OAuth endpoint to RFC 6749 §5.2 JSON. */
export function toOAuthError(err: unknown, req: FastifyRequest): OAuthError {
  if (err instanceof OAuthError) return err;
  return fromApiError(toApiError(err, req));
}

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  for (const [k, v] of Object.entries(err.options.headers ?? {})) reply.header(k, v);
  return reply
    .code(err.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json')
    .send({ error: err.code, error_description: err.description });
}
