import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { ScimError } from '../errors.js';
import { isObject, text } from '../input.js';
import type { Ref } from '../definition.js';
import { MAX_MULTI_VALUES } from '../limits.js';
import type { Doc } from '../patch.js';
import { LATCHKEY_USER_SCHEMA, USER_SCHEMA } from '../schema.js';
import { etag } from '../versions.js';
import type { ScimUserRow, StoredEmail, UserFields } from './queries.js';

/** The User resource: rows to SCIM JSON, and SCIM JSON (already canonically spelled) to fields. */

export interface UserInput {
  /** The normalised email. */
  readonly userName: string;
  readonly fields: UserFields;
  /** undefined: not said (PUT leaves the membership as it is). */
  readonly active: boolean | undefined;
}

function emails(v: unknown): StoredEmail[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ScimError('invalid_value', 'emails must be an array.');
  if (v.length > MAX_MULTI_VALUES)
    throw new ScimError('invalid_value', `emails holds at most ${MAX_MULTI_VALUES} values.`);
  const out: StoredEmail[] = [];
  for (const e of v) {
    if (!isObject(e)) throw new ScimError('invalid_value', 'Each email must be an object.');
    const value = text(e.value, 'emails.value');
    if (!value) continue;
    const type = text(e.type, 'emails.type');
    out.push({
      value,
      ...(type ? { type } : {}),
      ...(e.primary === true ? { primary: true } : {}),
    });
  }
  if (out.filter((e) => e.primary).length > 1)
    throw new ScimError('invalid_value', 'At most one email may be primary.');
  return out;
}

/** Fields from a User document. `userName` is required and must be an email address. */
export function userInput(doc: Doc): UserInput {
  const raw = doc.userName;
  if (typeof raw !== 'string' || raw.trim() === '')
    throw new ScimError('invalid_value', 'userName is required: the email address of the person.');
  const userName = normalizeEmail(raw);
  if (!isValidEmail(userName)) throw new ScimError('invalid_value', 'userName must be an email address.');
  const name = isObject(doc.name) ? doc.name : {};
  if (doc.active !== undefined && typeof doc.active !== 'boolean')
    throw new ScimError('invalid_value', 'active must be true or false.');
  return {
    userName,
    active: doc.active as boolean | undefined,
    fields: {
      external_id: text(doc.externalId, 'externalId', false),
      given_name: text(name.givenName, 'name.givenName'),
      family_name: text(name.familyName, 'name.familyName'),
      formatted_name: text(name.formatted, 'name.formatted'),
      display_name: text(doc.displayName, 'displayName'),
      emails: emails(doc.emails),
    },
  };
}

/** The account name for a person SCIM creates: the IdP's display name, else their names, else the mailbox. */
export function accountName(i: UserInput): string {
  const f = i.fields;
  const joined = [f.given_name, f.family_name].filter(Boolean).join(' ');
  return (f.display_name ?? f.formatted_name ?? (joined || i.userName.split('@')[0]!)).slice(0, 100);
}

function storedEmails(v: unknown): StoredEmail[] {
  const list = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  return Array.isArray(list) ? (list as StoredEmail[]) : [];
}

/** The writable attributes of a stored user, as PATCH starts from them. */
export function userDocument(row: ScimUserRow): Doc {
  const name: Doc = {};
  if (row.given_name) name.givenName = row.given_name;
  if (row.family_name) name.familyName = row.family_name;
  if (row.formatted_name) name.formatted = row.formatted_name;
  return {
    userName: row.user_name,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    ...(Object.keys(name).length ? { name } : {}),
    ...(row.display_name ? { displayName: row.display_name } : {}),
    emails: storedEmails(row.emails).map((e) => ({ ...e })),
    active: row.role !== null,
  };
}

/**
 * The User resource as the wire shows it (projection comes after); `groups` null when the
 * projection leaves them out (they were not read).
 */
export function userResource(row: ScimUserRow, groups: readonly Ref[] | null, base: string) {
  const doc = userDocument(row);
  const stored = storedEmails(row.emails);
  return {
    schemas: [USER_SCHEMA, LATCHKEY_USER_SCHEMA],
    id: row.id,
    ...(row.external_id ? { externalId: row.external_id } : {}),
    userName: row.user_name,
    ...(doc.name ? { name: doc.name as Record<string, string> } : {}),
    ...(row.display_name ? { displayName: row.display_name } : {}),
    // With no address of its own, the person's userName is their (work, primary) email.
    emails: stored.length ? stored : [{ value: row.user_name, type: 'work', primary: true }],
    active: row.role !== null,
    ...(groups
      ? { groups: groups.map((g) => ({ value: g.value, display: g.display, type: 'direct' })) }
      : {}),
    [LATCHKEY_USER_SCHEMA]: { role: row.role },
    meta: {
      resourceType: 'User',
      created: row.created_at.toISOString(),
      lastModified: row.updated_at.toISOString(),
      location: `${base}/Users/${row.id}`,
      version: etag(row.version),
    },
  };
}

export type UserResource = ReturnType<typeof userResource>;
