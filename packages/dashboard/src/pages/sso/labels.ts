import type { SsoKind } from '@latchkey/contract';

/** How the SSO page names each kind of connection. */
export const KIND_LABEL: Record<SsoKind, string> = { oidc: 'OIDC', saml: 'SAML' };
