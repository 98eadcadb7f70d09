import { Type } from 'typebox';

/** Response shapes shared by several domains. Responses are serialised from these, never from rows. */
export const UserShape = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String() });
export const RoleShape = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('member'),
  Type.Literal('billing'),
]);
export const OrgShape = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  role: RoleShape,
});
export const Timestamp = Type.String({ format: 'date-time' });
export const Email = Type.String({ minLength: 3, maxLength: 254 });
export const Name = Type.String({ minLength: 1, maxLength: 100 });
export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
