import { Type } from 'typebox';
import { OrgShape, Timestamp, UserShape } from '../../http/shapes.js';
import { graceEndsAt, type OrgMfaPolicy } from './org-policy.js';

/** The request and response shapes of the second-factor API. */

export const Method = Type.Union([Type.Literal('totp'), Type.Literal('recovery_code')]);
export const CodeBody = Type.Object(
  { method: Method, code: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
/** A WebAuthn response as the browser's `PublicKeyCredential.toJSON()` gives it; the library checks its shape. */
export const WebAuthnJson = Type.Object({}, { additionalProperties: true });
export const AssertionBody = Type.Object({ response: WebAuthnJson }, { additionalProperties: false });
export const Options = Type.Object({}, { additionalProperties: true });
export const Methods = Type.Array(
  Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')]),
);
export const Amr = Type.Array(Type.String());
export const SignedIn = Type.Object({
  user: UserShape,
  org: Type.Union([OrgShape, Type.Null()]),
  amr: Amr,
  recovery_codes_left: Type.Optional(Type.Integer()),
});
export const TotpStart = Type.Object({
  secret: Type.String(),
  otpauth_uri: Type.String(),
  qr_svg: Type.String(),
});
export const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String()) });
export const PasskeyShape = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  backed_up: Type.Boolean(),
});
export const OrgMfaShape = Type.Object({
  mfa_required: Type.Boolean(),
  grace_days: Type.Integer(),
  required_at: Type.Union([Timestamp, Type.Null()]),
  grace_ends_at: Type.Union([Timestamp, Type.Null()]),
});

export const iso = (d: Date | null) => (d ? d.toISOString() : null);
export const orgMfaOut = (p: OrgMfaPolicy) => {
  const ends = graceEndsAt(p);
  return {
    mfa_required: p.required,
    grace_days: p.graceDays,
    required_at: iso(p.requiredAt),
    grace_ends_at: ends === null ? null : new Date(ends).toISOString(),
  };
};

/** Changing the account's factors: a signed-in browser session with the account:write scope. */
export const sessionAccount = { auth: 'user', scope: 'account:write', credentials: ['session'] } as const;
