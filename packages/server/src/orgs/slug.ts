import { randomBytes } from 'node:crypto';
import { UUID_RE } from '../lib/secrets.js';

export const SLUG_RE = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const SLUG_MAX = 40;

/** A slug must look like one and must not look like an org id (x-org-id accepts both). */
export function isValidSlug(s: string): boolean {
  return SLUG_RE.test(s) && !UUID_RE.test(s) && !s.includes('--');
}

/** Derives a slug from a name: lowercase ASCII words joined by hyphens, or "org". */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX - 7)
    .replace(/-+$/g, '');
  return base.length >= 2 ? base : 'org';
}

/** The same base with a short random suffix, for when the plain slug is taken. */
export function suffixed(base: string): string {
  return `${base}-${randomBytes(4).toString('hex').slice(0, 6)}`;
}
