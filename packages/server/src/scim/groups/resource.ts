import { Type } from 'typebox';
import type { ResourceDefinition } from '../definition.js';
import { GROUP_RESOURCE, LATCHKEY_GROUP_SCHEMA } from '../schema.js';
import { Meta } from '../shapes.js';
import { groupResource } from './document.js';
import { createGroup, deleteGroup, updateGroup } from './ops.js';
import { GROUP_ATTRS, getGroup, listGroups, membersOfGroups, type ScimGroupRow } from './queries.js';

/**
 * `/Groups` (RFC 7643 §4.2): the org's groups; one mapped to a role gives it to its members. A
 * PATCH answers 204 unless the request asks for the group back: a group may hold many members,
 * and identity providers patch it one member at a time.
 */

const Str = Type.String();
const opt = Type.Optional;

export const ScimGroup = Type.Object({
  schemas: Type.Array(Str),
  id: Str,
  externalId: opt(Str),
  displayName: opt(Str),
  members: opt(Type.Array(Type.Object({ value: opt(Str), display: opt(Str), type: opt(Str) }))),
  [LATCHKEY_GROUP_SCHEMA]: opt(Type.Object({ role: opt(Type.Union([Str, Type.Null()])) })),
  meta: opt(Meta),
});

export const GROUPS: ResourceDefinition<ScimGroupRow> = {
  schema: GROUP_RESOURCE,
  noun: 'group',
  attrs: GROUP_ATTRS,
  shape: ScimGroup,
  docs: {
    create: 'Body: a SCIM Group (RFC 7643 §4.2), optionally with the Latchkey extension `role`.',
    replace: 'Body: the whole SCIM Group. Without the Latchkey extension the role mapping stays.',
    patch:
      'Body: a PatchOp message. Answers 204, or 200 with the group when `attributes` or `excludedAttributes` is given.',
  },
  patchAnswer: 'no-content',
  related: {
    attribute: 'members',
    load: async (db, orgId, ids) =>
      (await membersOfGroups(db, orgId, ids)).map((m) => ({
        of: m.group_id,
        value: m.scim_user_id,
        display: m.user_name,
      })),
  },
  list: listGroups,
  get: (db, orgId, id) => getGroup(db, orgId, id),
  toResource: groupResource,
  create: (deps, w, body) => createGroup(deps, w.caller, body),
  update: (deps, w, id, change, ifMatch) => updateGroup(deps, w.caller, id, change, ifMatch),
  remove: (deps, w, id, ifMatch) => deleteGroup(deps, w.caller, id, ifMatch),
};
