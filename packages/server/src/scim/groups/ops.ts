import type { Transaction } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Database } from '../../db/schema.js';
import { newId } from '../../lib/secrets.js';
import type { ResourceChange, ScimCaller, ScimDeps } from '../definition.js';
import { ScimError } from '../errors.js';
import { bodyDocument } from '../input.js';
import { AUDIT_MAX_IDS } from '../limits.js';
import { applyPatch } from '../patch.js';
import type { MappableRole } from '../queries.js';
import { reevaluateRoles } from '../roles.js';
import { GROUP_RESOURCE } from '../schema.js';
import { existingUserIds } from '../users/queries.js';
import { checkIfMatch } from '../versions.js';
import { groupDocument, groupFields, groupInput } from './document.js';
import {
  addMembers,
  deleteGroup as deleteGroupRow,
  getGroup,
  insertGroup,
  memberIds,
  removeMembers,
  type ScimGroupRow,
  touchGroup,
  touchUsers,
} from './queries.js';

/**
 * Groups of one org. A group mapped to a role gives it to its members (the highest of a person's
 * groups wins); every change of membership or mapping re-evaluates the people it touches.
 */

function notFound(): never {
  throw new ScimError('not_found', 'No such group.');
}

const ids = (list: readonly string[]) => ({
  count: list.length,
  ...(list.length <= AUDIT_MAX_IDS ? { ids: list } : {}),
});

async function requireUsers(trx: Transaction<Database>, orgId: string, wanted: readonly string[]) {
  const found = await existingUserIds(trx, orgId, wanted);
  const missing = wanted.filter((id) => !found.has(id));
  if (missing.length)
    throw new ScimError(
      'invalid_value',
      `members name users this organisation does not have: ${missing.slice(0, 5).join(', ')}.`,
    );
}

async function announce(deps: ScimDeps, users: readonly string[]) {
  for (const user of users) await deps.auth.changed({ user });
}

/** POST /Groups. A displayName the org already has → 409 `uniqueness`. */
export async function createGroup(deps: ScimDeps, c: ScimCaller, body: unknown): Promise<ScimGroupRow> {
  const { db, clock } = deps;
  const input = groupInput(bodyDocument(body, GROUP_RESOURCE));
  const id = newId();
  const changed = await db.transaction().execute(async (trx) => {
    await requireUsers(trx, c.orgId, input.members);
    const fields = groupFields(input, null);
    await insertGroup(trx, clock, { id, orgId: c.orgId, ...fields });
    await addMembers(trx, clock, c.orgId, id, input.members);
    await touchUsers(trx, clock, c.orgId, input.members);
    const changed = fields.role ? await reevaluateRoles(trx, clock, c.actor, c.orgId, input.members) : [];
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.group_created',
      target: `scim_group:${id}`,
      data: { display_name: fields.display_name, role: fields.role, members: ids(input.members) },
    });
    return changed;
  });
  await announce(deps, changed);
  return (await getGroup(db, c.orgId, id)) ?? notFound();
}

/** PUT (`replace`) or PATCH (`patch`) of /Groups/{id}. */
export async function updateGroup(
  deps: ScimDeps,
  c: ScimCaller,
  id: string,
  change: ResourceChange,
  ifMatch: string | string[] | undefined,
): Promise<ScimGroupRow> {
  const { db, clock } = deps;
  const changed = await db.transaction().execute(async (trx) => {
    const row = (await getGroup(trx, c.orgId, id, true)) ?? notFound();
    checkIfMatch(ifMatch, row.version);
    const current = await memberIds(trx, c.orgId, id);
    let doc;
    if ('replace' in change) {
      doc = bodyDocument(change.replace, GROUP_RESOURCE);
    } else {
      doc = groupDocument(row, current);
      applyPatch(doc, GROUP_RESOURCE, change.patch);
    }
    const input = groupInput(doc);
    const fields = groupFields(input, row.role);
    const before = new Set(current);
    const after = new Set(input.members);
    const added = input.members.filter((m) => !before.has(m));
    const removed = current.filter((m) => !after.has(m));
    await requireUsers(trx, c.orgId, added);
    const edits: Partial<typeof fields> = {};
    if (fields.display_name !== row.display_name) edits.display_name = fields.display_name;
    if (fields.external_id !== row.external_id) edits.external_id = fields.external_id;
    if (fields.role !== row.role) edits.role = fields.role;
    if (Object.keys(edits).length === 0 && added.length === 0 && removed.length === 0) return [];
    await touchGroup(trx, clock, c.orgId, id, edits);
    await addMembers(trx, clock, c.orgId, id, added);
    await removeMembers(trx, c.orgId, id, removed);
    await touchUsers(trx, clock, c.orgId, [...added, ...removed]);
    const affected = 'role' in edits ? [...current, ...added] : fields.role ? [...added, ...removed] : [];
    const changed = await reevaluateRoles(trx, clock, c.actor, c.orgId, affected);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.group_updated',
      target: `scim_group:${id}`,
      data: {
        display_name: fields.display_name,
        fields: Object.keys(edits),
        ...('role' in edits ? { role: { from: row.role, to: fields.role } } : {}),
        added: ids(added),
        removed: ids(removed),
      },
    });
    return changed;
  });
  await announce(deps, changed);
  return (await getGroup(db, c.orgId, id)) ?? notFound();
}

/** DELETE /Groups/{id}: its members lose the role it gave them. */
export async function deleteGroup(
  deps: ScimDeps,
  c: ScimCaller,
  id: string,
  ifMatch: string | string[] | undefined,
): Promise<void> {
  const { db, clock } = deps;
  const changed = await db.transaction().execute(async (trx) => {
    const row = (await getGroup(trx, c.orgId, id, true)) ?? notFound();
    checkIfMatch(ifMatch, row.version);
    const members = await memberIds(trx, c.orgId, id);
    await deleteGroupRow(trx, c.orgId, id);
    await touchUsers(trx, clock, c.orgId, members);
    const changed = row.role ? await reevaluateRoles(trx, clock, c.actor, c.orgId, members) : [];
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.group_deleted',
      target: `scim_group:${id}`,
      data: { display_name: row.display_name, role: row.role, members: ids(members) },
    });
    return changed;
  });
  await announce(deps, changed);
}

/**
 * The management API's mapping of a group to a role (by an admin). Null when the org has no such
 * group. Re-evaluates every member.
 */
export async function setGroupRole(
  deps: ScimDeps,
  who: Actor,
  orgId: string,
  id: string,
  role: MappableRole | null,
): Promise<ScimGroupRow | null> {
  const { db, clock } = deps;
  const result = await db.transaction().execute(async (trx) => {
    const row = await getGroup(trx, orgId, id, true);
    if (!row) return null;
    if (row.role === role) return { changed: [] as string[] };
    await touchGroup(trx, clock, orgId, id, { role });
    const members = await memberIds(trx, orgId, id);
    const changed = await reevaluateRoles(trx, clock, who, orgId, members);
    await audit(trx, clock, who, {
      orgId,
      action: 'scim.group_role_set',
      target: `scim_group:${id}`,
      data: { display_name: row.display_name, from: row.role, to: role },
    });
    return { changed };
  });
  if (!result) return null;
  await announce(deps, result.changed);
  return (await getGroup(db, orgId, id)) ?? null;
}
