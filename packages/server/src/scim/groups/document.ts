import { UUID_RE } from '../../lib/secrets.js';
import type { Ref } from '../definition.js';
import { ScimError } from '../errors.js';
import { isObject, text } from '../input.js';
import { MAX_GROUP_MEMBERS } from '../limits.js';
import type { Doc } from '../patch.js';
import type { MappableRole } from '../queries.js';
import { GROUP_SCHEMA, LATCHKEY_GROUP_SCHEMA } from '../schema.js';
import { etag } from '../versions.js';
import type { GroupFields, ScimGroupRow } from './queries.js';

/** The Group resource: rows to SCIM JSON, and SCIM JSON (canonically spelled) to fields. */

export interface GroupInput {
  readonly displayName: string;
  readonly externalId: string | null;
  /** The member ids, lower-cased (a PUT or PATCH result names the whole set). */
  readonly members: readonly string[];
  /** undefined: the document does not carry the Latchkey extension, so the mapping stays as it is. */
  readonly role: MappableRole | null | undefined;
}

const MAPPABLE = new Set(['admin', 'member', 'billing']);

export function groupInput(doc: Doc): GroupInput {
  const displayName = text(doc.displayName, 'displayName');
  if (!displayName) throw new ScimError('invalid_value', 'displayName is required.');
  const raw = doc.members ?? [];
  if (!Array.isArray(raw)) throw new ScimError('invalid_value', 'members must be an array.');
  if (raw.length > MAX_GROUP_MEMBERS)
    throw new ScimError('invalid_value', `A group holds at most ${MAX_GROUP_MEMBERS} members.`);
  const members = new Set<string>();
  for (const m of raw) {
    const v = isObject(m) ? m.value : undefined;
    if (typeof v !== 'string' || !UUID_RE.test(v.trim()))
      throw new ScimError('invalid_value', 'Each member needs the id of a User as its value.');
    members.add(v.trim().toLowerCase());
  }
  let role: MappableRole | null | undefined;
  const ext = doc[LATCHKEY_GROUP_SCHEMA];
  if (isObject(ext)) {
    const r = ext.role ?? null;
    if (r !== null && (typeof r !== 'string' || !MAPPABLE.has(r.toLowerCase())))
      throw new ScimError('invalid_value', 'role must be admin, member, billing or null.');
    role = r === null ? null : (r.toLowerCase() as MappableRole);
  }
  return { displayName, externalId: text(doc.externalId, 'externalId', false), members: [...members], role };
}

export function groupFields(i: GroupInput, current: MappableRole | null): GroupFields {
  return {
    display_name: i.displayName,
    external_id: i.externalId,
    role: i.role === undefined ? current : i.role,
  };
}

/** The writable attributes of a stored group, as PATCH starts from them. */
export function groupDocument(row: ScimGroupRow, members: readonly string[]): Doc {
  return {
    displayName: row.display_name,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    members: members.map((value) => ({ value })),
    [LATCHKEY_GROUP_SCHEMA]: row.role ? { role: row.role } : {},
  };
}

/** The Group resource as the wire shows it; `members` null when the projection leaves them out. */
export function groupResource(row: ScimGroupRow, members: readonly Ref[] | null, base: string) {
  return {
    schemas: [GROUP_SCHEMA, LATCHKEY_GROUP_SCHEMA],
    id: row.id,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    displayName: row.display_name,
    ...(members
      ? { members: members.map((m) => ({ value: m.value, display: m.display, type: 'User' })) }
      : {}),
    [LATCHKEY_GROUP_SCHEMA]: { role: row.role },
    meta: {
      resourceType: 'Group',
      created: row.created_at.toISOString(),
      lastModified: row.updated_at.toISOString(),
      location: `${base}/Groups/${row.id}`,
      version: etag(row.version),
    },
  };
}

export type GroupResource = ReturnType<typeof groupResource>;
