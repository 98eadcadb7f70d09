import { Type } from 'typebox';
import { ApiError } from '../errors.js';

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

/** Keyset cursor: the (timestamp, id) of the last row of the previous page, opaque to clients. */
export interface Cursor {
  at: Date;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at.toISOString(), c.id])).toString('base64url');
}

export function decodeCursor(s: string | undefined): Cursor | null {
  if (s === undefined) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      const at = new Date(v[0]);
      if (!Number.isNaN(at.getTime()) && /^[0-9a-f-]{36}$/.test(v[1])) return { at, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new ApiError('invalid_request', 'The cursor is not valid.');
}

/** Builds `{data, next_cursor}` from a page fetched with limit + 1 rows. */
export function page<T>(rows: T[], limit: number, key: (row: T) => Cursor) {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, next_cursor: more && last ? encodeCursor(key(last)) : null };
}

export function PageOf<T extends ReturnType<typeof Type.Object>>(item: T) {
  return Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}
