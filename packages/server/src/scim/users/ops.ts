import type { Transaction } from 'kysely';
import { audit } from '../../audit/log.js';
import type { Database } from '../../db/schema.js';
import { newId } from '../../lib/secrets.js';
import type { ResourceChange, ScimCaller, ScimDeps } from '../definition.js';
import { ScimError } from '../errors.js';
import { bodyDocument } from '../input.js';
import {
  auditLink,
  ensureInvitation,
  type InvitationMail,
  isOpenInvitation,
  type Placement,
  place,
  withdrawInvitation,
} from '../link.js';
import { applyPatch } from '../patch.js';
import { activate, deactivate } from '../roles.js';
import { LATCHKEY_USER_SCHEMA, USER_RESOURCE } from '../schema.js';
import { checkIfMatch } from '../versions.js';
import { type UserInput, userDocument, userInput } from './document.js';
import {
  deleteUser as deleteUserRow,
  getUser,
  getUserByAccount,
  getUserByName,
  insertUser,
  type ScimUserRow,
  setLink,
  touchUser,
  type UserFields,
  type UserLink,
} from './queries.js';

/**
 * Provisioning a person into one org. The account is the person's, not the org's: a SCIM record
 * is linked to an account only as `link.ts` allows (the org's verified domains, or the person
 * accepting an invitation); until then it is pending, inactive, and reaches no account. SCIM
 * never reads or writes the account row of an existing person: the resource shows the org's own
 * record, and what SCIM controls is the membership in its own org.
 */

/** A SCIM write: the record after it, and the invitation to mail now that it has committed. */
export interface UserWrite {
  readonly row: ScimUserRow;
  readonly invite: InvitationMail | null;
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

function uniqueness(): never {
  throw new ScimError('uniqueness', 'A user with this userName already exists.');
}

/** The audit target of a record: the account once linked, else the record itself. */
function targetOf(scimId: string, userId: string | null): string {
  return userId ? `user:${userId}` : `scim_user:${scimId}`;
}

interface Settled {
  link: UserLink;
  invite: InvitationMail | null;
}

/**
 * Puts a record where its userName and wanted state say: linked to an account (membership on or
 * off as wanted) or pending (an open invitation while wanted active, none otherwise). `from` is
 * the record's link before (null for a new record); its invitation is withdrawn when no longer
 * waited on. Links to an account are audited on the account's trail.
 */
async function settle(
  trx: Transaction<Database>,
  deps: ScimDeps,
  c: ScimCaller,
  s: { id: string; input: UserInput; active: boolean; from: UserLink | null; isNew: boolean },
): Promise<Settled> {
  const { clock } = deps;
  const from = s.from;
  // A linked record stays with its account (renamed by the IdP, only the org's record follows);
  // a new or pending one goes where its userName places it.
  const placed: Placement = from?.userId
    ? { kind: 'linked', userId: from.userId, via: 'member', created: false }
    : await place(trx, deps, c, s.input);

  let invitationId: string | null = null;
  let invite: InvitationMail | null = null;
  if (placed.kind === 'pending' && s.active) {
    const keep =
      from?.invitationId && from.userName === s.input.userName
        ? (await isOpenInvitation(trx, deps, c.orgId, from.invitationId))
          ? from.invitationId
          : null
        : null;
    if (keep) invitationId = keep;
    else ({ id: invitationId, mail: invite } = await ensureInvitation(trx, deps, c, s.input.userName));
  }
  if (from?.invitationId && from.invitationId !== invitationId)
    await withdrawInvitation(trx, deps, c, from.invitationId);

  const link: UserLink = {
    userName: s.input.userName,
    userId: placed.kind === 'linked' ? placed.userId : null,
    invitationId,
  };
  if (placed.kind === 'linked' && !from?.userId) {
    if (await getUserByAccount(trx, c.orgId, placed.userId)) uniqueness();
    if (!s.isNew) await setLink(trx, c.orgId, s.id, link);
    await auditLink(trx, deps, c, { userId: placed.userId, scimId: s.id, via: placed.via });
  } else if (!s.isNew) {
    await setLink(trx, c.orgId, s.id, link);
  }
  return { link, invite };
}

async function applyActive(
  trx: Transaction<Database>,
  deps: ScimDeps,
  c: ScimCaller,
  r: { id: string; userId: string | null; active: boolean; member: boolean },
): Promise<string | null> {
  if (!r.userId) return null;
  if (r.active && !r.member)
    return (await activate(trx, deps.clock, c.actor, c.orgId, { userId: r.userId, scimId: r.id }))
      ? r.userId
      : null;
  if (!r.active && r.member)
    return (await deactivate(trx, deps.clock, c.actor, c.orgId, r.userId)) ? r.userId : null;
  return null;
}

/** POST /Users. An existing SCIM user with this userName (or this account) → 409 `uniqueness`. */
export async function createUser(deps: ScimDeps, c: ScimCaller, body: unknown): Promise<UserWrite> {
  const { db, clock } = deps;
  const input = userInput(bodyDocument(body, USER_RESOURCE));
  const id = newId();
  const active = input.active ?? true;
  const out = await db.transaction().execute(async (trx) => {
    if (await getUserByName(trx, c.orgId, input.userName)) uniqueness();
    const s = await settle(trx, deps, c, { id, input, active, from: null, isNew: true });
    await insertUser(trx, clock, { id, orgId: c.orgId, link: s.link, ...input.fields });
    let moved: string | null = null;
    if (s.link.userId) {
      // Linking one of the org's members with active false deprovisions them, as an update would.
      const member = await trx
        .selectFrom('memberships')
        .select('role')
        .where('org_id', '=', c.orgId)
        .where('user_id', '=', s.link.userId)
        .executeTakeFirst();
      moved = await applyActive(trx, deps, c, {
        id,
        userId: s.link.userId,
        active,
        member: member !== undefined,
      });
    }
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.user_created',
      target: targetOf(id, s.link.userId),
      data: {
        scim_id: id,
        user_name: input.userName,
        account: s.link.userId ? 'linked' : 'pending',
        active: s.link.userId ? active : false,
        ...(s.link.invitationId ? { invitation_id: s.link.invitationId } : {}),
      },
    });
    return { moved, invite: s.invite };
  });
  if (out.moved) await deps.auth.changed({ user: out.moved });
  return { row: (await getUser(db, c.orgId, id)) ?? notFound(), invite: out.invite };
}

/** PUT (`replace`) or PATCH (`patch`) of /Users/{id}. */
export async function updateUser(
  deps: ScimDeps,
  c: ScimCaller,
  id: string,
  change: ResourceChange,
  ifMatch: string | string[] | undefined,
): Promise<UserWrite> {
  const { db, clock } = deps;
  const out = await db.transaction().execute(async (trx) => {
    const row = (await getUser(trx, c.orgId, id, true)) ?? notFound();
    checkIfMatch(ifMatch, row.version);
    let input: UserInput;
    if ('replace' in change) {
      input = userInput(bodyDocument(change.replace, USER_RESOURCE));
    } else {
      const doc = { ...userDocument(row), [LATCHKEY_USER_SCHEMA]: {} };
      applyPatch(doc, USER_RESOURCE, change.patch);
      input = userInput(doc);
    }
    const renamed = input.userName !== row.user_name;
    if (renamed && (await getUserByName(trx, c.orgId, input.userName))) uniqueness();
    const fields = changedFields(row, input.fields);
    if (renamed) fields.unshift('userName');
    const from: UserLink = { userName: row.user_name, userId: row.user_id, invitationId: row.invitation_id };
    // A pending record wants to be active while it waits on an invitation; PUT without `active` keeps that.
    const wanted = input.active ?? (row.user_id ? row.role !== null : row.invitation_id !== null);
    const pendingNeedsWork =
      !row.user_id &&
      (renamed ||
        wanted !== (row.invitation_id !== null) ||
        (wanted && !(await isOpenInvitation(trx, deps, c.orgId, row.invitation_id!))));
    let s: Settled = { link: from, invite: null };
    if (renamed || pendingNeedsWork)
      s = await settle(trx, deps, c, { id, input, active: wanted, from, isNew: false });
    const linkedNow = !from.userId && s.link.userId !== null;
    const moved = await applyActive(trx, deps, c, {
      id,
      userId: s.link.userId,
      active: wanted,
      member: row.role !== null,
    });
    const invitationMoved = s.link.invitationId !== from.invitationId;
    if (fields.length === 0 && !moved && !linkedNow && !invitationMoved) return null;
    await touchUser(trx, clock, c.orgId, id, input.fields);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: moved ? (wanted ? 'scim.user_reactivated' : 'scim.user_deactivated') : 'scim.user_updated',
      target: targetOf(id, s.link.userId),
      data: {
        scim_id: id,
        fields,
        ...(s.link.userId ? {} : { pending: true, invited: s.link.invitationId !== null }),
      },
    });
    return { moved, invite: s.invite };
  });
  if (out?.moved) await deps.auth.changed({ user: out.moved });
  return { row: (await getUser(db, c.orgId, id)) ?? notFound(), invite: out?.invite ?? null };
}

/**
 * DELETE /Users/{id}: the membership (with the org's credentials of the person) and the SCIM
 * record go, or a pending record's invitation is revoked; the account stays.
 */
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
    const role =
      row.user_id === null || row.role === null
        ? null
        : await deactivate(trx, clock, c.actor, c.orgId, row.user_id);
    if (row.invitation_id) await withdrawInvitation(trx, deps, c, row.invitation_id);
    await deleteUserRow(trx, clock, c.orgId, id);
    await audit(trx, clock, c.actor, {
      orgId: c.orgId,
      action: 'scim.user_deleted',
      target: targetOf(id, row.user_id),
      data: { scim_id: id, user_name: row.user_name, role },
    });
    return role ? row.user_id : null;
  });
  if (removed) await deps.auth.changed({ user: removed });
}
