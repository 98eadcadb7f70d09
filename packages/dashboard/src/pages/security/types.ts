/** The MFA API's shapes the Security page reads (`/api/v1/me/mfa`), and the options its requests share. */

export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  backed_up: boolean;
}
export interface MfaState {
  totp: { enabled: boolean };
  recovery_codes: { remaining: number };
  passkeys: Passkey[];
  methods: ('totp' | 'recovery_code' | 'passkey')[];
  required_by: { slug: string; name: string } | null;
  step_up_until: string | null;
}

/** Requests about the signed-in account itself: no org. */
export const me = { org: null } as const;
