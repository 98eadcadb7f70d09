import { ScimError } from './errors.js';

/** Resource versions (RFC 7644 §3.14): a counter per resource, shown as a weak ETag. */

export const etag = (version: number) => `W/"${version}"`;

/**
 * Checks an `If-Match` header against the resource's version: `*` or any listed tag that names
 * it passes (weak or strong form); anything else → 412. No header: no check.
 */
export function checkIfMatch(header: string | string[] | undefined, version: number): void {
  if (header === undefined) return;
  const tags = (Array.isArray(header) ? header.join(',') : header).split(',').map((t) => t.trim());
  if (tags.includes('*')) return;
  const want = `"${version}"`;
  if (!tags.some((t) => t === want || t === `W/${want}`))
    throw new ScimError('precondition_failed', 'The resource has changed since that version.');
}
