import { Type } from 'typebox';
import type { ResourceDefinition } from '../definition.js';
import { sendInvitationMail } from '../link.js';
import { LATCHKEY_USER_SCHEMA, USER_RESOURCE } from '../schema.js';
import { Meta } from '../shapes.js';
import { userResource } from './document.js';
import { createUser, deleteUser, updateUser } from './ops.js';
import { getUser, groupsOfUsers, listUsers, type ScimUserRow, USER_ATTRS } from './queries.js';

/**
 * `/Users` (RFC 7643 §4.1): people provisioned into the org that owns the SCIM secret. A write
 * that leaves a person pending on an invitation mails it once the write has committed.
 */

const Str = Type.String();
const opt = Type.Optional;

export const ScimUser = Type.Object({
  schemas: Type.Array(Str),
  id: Str,
  externalId: opt(Str),
  userName: opt(Str),
  name: opt(Type.Object({ formatted: opt(Str), familyName: opt(Str), givenName: opt(Str) })),
  displayName: opt(Str),
  emails: opt(Type.Array(Type.Object({ value: opt(Str), type: opt(Str), primary: opt(Type.Boolean()) }))),
  active: opt(Type.Boolean()),
  groups: opt(Type.Array(Type.Object({ value: opt(Str), display: opt(Str), type: opt(Str) }))),
  [LATCHKEY_USER_SCHEMA]: opt(Type.Object({ role: opt(Type.Union([Str, Type.Null()])) })),
  meta: opt(Meta),
});

export const USERS: ResourceDefinition<ScimUserRow> = {
  schema: USER_RESOURCE,
  noun: 'user',
  attrs: USER_ATTRS,
  shape: ScimUser,
  docs: {
    create: 'Body: a SCIM User (RFC 7643 §4.1). `userName` is the email address.',
    replace: 'Body: the whole SCIM User. A missing `active` leaves the membership as it is.',
    patch:
      'Body: a PatchOp message (RFC 7644 §3.5.2). `active: false` deprovisions. Answers 200 with the user, as `attributes` or `excludedAttributes` select.',
  },
  patchAnswer: 'resource',
  related: {
    attribute: 'groups',
    load: async (db, orgId, ids) =>
      (await groupsOfUsers(db, orgId, ids)).map((g) => ({
        of: g.scim_user_id,
        value: g.id,
        display: g.display_name,
      })),
  },
  list: listUsers,
  get: (db, orgId, id) => getUser(db, orgId, id),
  toResource: userResource,

  async create(deps, w, body) {
    const { row, invite } = await createUser(deps, w.caller, body);
    if (invite) await sendInvitationMail(deps, w.log, invite);
    return row;
  },
  async update(deps, w, id, change, ifMatch) {
    const { row, invite } = await updateUser(deps, w.caller, id, change, ifMatch);
    if (invite) await sendInvitationMail(deps, w.log, invite);
    return row;
  },
  remove: (deps, w, id, ifMatch) => deleteUser(deps, w.caller, id, ifMatch),
};
