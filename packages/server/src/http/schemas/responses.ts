import { Type } from 'typebox';
import { ProblemShape } from './errors.js';

/** Response entries for answers that are not JSON: no content, redirects, HTML pages, event streams. */

export const noContent = (description = 'Done.') => Type.Unsafe<undefined>(Type.Null({ description }));

/** A redirect (the `Location` header says where); the body is empty. */
export const redirect = (description: string) => ({
  description,
  type: 'null',
  headers: { location: Type.String() },
});

/** A server-rendered page, for a browser. */
export const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: Type.String() } },
});

export const eventStream = (description: string) => ({
  description,
  content: { 'text/event-stream': { schema: Type.String() } },
});

/** A browser route's refusals: a page saying why, or a problem when the request itself is malformed. */
export const pageOrProblem = (description: string) => ({
  description,
  content: {
    'text/html': { schema: Type.String() },
    'application/problem+json': { schema: ProblemShape },
  },
});
