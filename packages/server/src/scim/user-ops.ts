import { findUserByEmail } from '../accounts/users.js';
import { type Actor, audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { newId } from '../lib/secrets.js';
import { ScimError } from './errors.js';
import { applyPatch, documentFrom, type PatchOperation } from './patch.js';
import {
  deleteUser as deleteUserRow,
  getUser,
  getUserByAccount,
  insertUser,
  type ScimUserRow,
  touchUser,
  type UserFields,
} from './queries.js';
import { activate, deactivate } from './roles.js';
import { LATCHKEY_USER_SCHEMA, USER_RESOURCE, USER_SCHEMA } from './schema.js';
import { accountName, requireSchema, type UserInput, userDocument, userInput } from './users.js';
import { checkIfMatch } from './versions.js';

/**
 * Provisioning a person into one org. The account is the person's, not the org's: SCIM creates
 * it when no account has the email, links the existing one otherwise, and never changes its
 * email, password or other orgs. What SCIM controls is the membership in its own org.
 */

export type ScimDeps = Pick<Deps, 'db' | 'clock' | 'auth'>;

/** The caller of a SCIM request: the org its secret belongs to. */
export interface ScimCaller {
  readonly orgId: string;
  readonly actor: Actor;
}

function notFound(): never {
  throw new ScimError('not_found', 'No such user.');
}

const FIELD_NAMES: Record<keyof UserFields, string> = {
  external_id: 'externalId',
  given_name: 'name.givenName',
  family_name: 'name.familyName',
  formatted_name: 'name.formatted',
  display_name: 'displayName',
  emails: 'emails',
};

/** Emails in one key order (jsonb keeps its own), so equal lists compare equal. */
function emailsKey(list: unknown): string {
  const items = Array.isArray(list) ? (list as { value?: unknown; type?: unknown; primary?: unknown }[]) : [];
  return JSON.stringify(items.map((e) => [e.value, e.type ?? null, e.primary === true]));
}

function changedFields(row: ScimUserRow, f: UserFields): string[] {
  const stored = typeof row.emails === 'string' ? (JSON.parse(row.emails) as unknown) : row.emails;
  const out: string[] = [];
  for (const k of Object.keys(FIELD_NAMES) as (keyof UserFields)[]) {
    const before = k === 'emails' ? emailsKey(stored) : row[k];
    const after = k === 'emails' ? emailsKey(f.emails) : f[k];
    if (before !== after) out.push(FIELD_NAMES[k]);
  }
  return out;
}

/** POST /Users. An existing SCIM user with this userName → 409 `uniqueness`. */
export async function createUser(deps: ScimDeps, c: ScimCaller, body: unknown): Promise<ScimUserRow> {
  const { db, clock } = deps;
  const input = userInput(documentFrom(requireSchema(body, USER_SCHEMA), USER_RESOURCE));
  const id = newId();
  const changed = await db.transaction().execute(async (trx) => {
    const existing = await findUserByEmail(trx, input.userName);
    let userId: string;
    if (existing) {
      userId = existing.id;
      if (await getUserByAccount(trx, c.orgId, userId))
        throw new ScimError('uniqueness', 'A user with this userName already exists.');
    } else {
      userId = newId();
      const now = clock.now();
      await trx
        .insertInto('users')
        .values({
          id: userId,
          email: input.userName,
          name: accountName(input),
          password_hash: null,
          email_verified_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await audit(trx, clock, c.actor, {
        orgId: c.orgId,
        action: 'user.created',
        target: `user:${userId}`,
        data: { via: 'scim' },
      });
    }
    await insertUser(trx, clock, { id, orgId: c.orgId, userId, ...input.fields });
    const active = input.active ?? true;
    const moved = active
      ? await activate(trx, clock, c.actor, c.orgId, { userId, scimId: id })
      : await deactivate(trx, clock, c.actor, c.orgId, userId);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.user_created',
      target: `user:${userId}`,
      data: { scim_id: id, user_name: input.userName, account: existing ? 'existing' : 'created', active },
    });
    return moved ? userId : null;
  });
  if (changed) await deps.auth.changed({ user: changed });
  return (await getUser(db, c.orgId, id)) ?? notFound();
}

/** PUT (`replace`) or PATCH (`patch`) of /Users/{id}. */
export async function updateUser(
  deps: ScimDeps,
  c: ScimCaller,
  id: string,
  change: { replace: unknown } | { patch: readonly PatchOperation[] },
  ifMatch: string | string[] | undefined,
): Promise<ScimUserRow> {
  const { db, clock } = deps;
  const changed = await db.transaction().execute(async (trx) => {
    const row = (await getUser(trx, c.orgId, id, true)) ?? notFound();
    checkIfMatch(ifMatch, row.version);
    let input: UserInput;
    if ('replace' in change) {
      input = userInput(documentFrom(requireSchema(change.replace, USER_SCHEMA), USER_RESOURCE));
    } else {
      const doc = { ...userDocument(row), [LATCHKEY_USER_SCHEMA]: {} };
      applyPatch(doc, USER_RESOURCE, change.patch);
      input = userInput(doc);
    }
    if (input.userName !== row.email)
      throw new ScimError(
        'mutability',
        "userName is the email of the person's Latchkey account; SCIM cannot change it.",
      );
    const fields = changedFields(row, input.fields);
    let moved = false;
    if (input.active === false && row.role !== null)
      moved = (await deactivate(trx, clock, c.actor, c.orgId, row.user_id)) !== null;
    else if (input.active === true && row.role === null)
      moved = (await activate(trx, clock, c.actor, c.orgId, { userId: row.user_id, scimId: id })) !== null;
    if (fields.length === 0 && !moved) return null;
    await touchUser(trx, clock, c.orgId, id, fields.length ? input.fields : null);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: moved
        ? input.active
          ? 'scim.user_reactivated'
          : 'scim.user_deactivated'
        : 'scim.user_updated',
      target: `user:${row.user_id}`,
      data: { scim_id: id, fields },
    });
    return moved ? row.user_id : null;
  });
  if (changed) await deps.auth.changed({ user: changed });
  return (await getUser(db, c.orgId, id)) ?? notFound();
}

/** DELETE /Users/{id}: the membership and the SCIM record go; the account stays. */
export async function deleteUser(
  deps: ScimDeps,
  c: ScimCaller,
  id: string,
  ifMatch: string | string[] | undefined,
): Promise<void> {
  const { db, clock } = deps;
  const removed = await db.transaction().execute(async (trx) => {
    const row = (await getUser(trx, c.orgId, id, true)) ?? notFound();
    checkIfMatch(ifMatch, row.version);
    const role = row.role === null ? null : await deactivate(trx, clock, c.actor, c.orgId, row.user_id);
    await deleteUserRow(trx, clock, c.orgId, id);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.user_deleted',
      target: `user:${row.user_id}`,
      data: { scim_id: id, user_name: row.email, role },
    });
    return role ? row.user_id : null;
  });
  if (removed) await deps.auth.changed({ user: removed });
}
