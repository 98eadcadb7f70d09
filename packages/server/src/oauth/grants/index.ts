import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { Grant } from './types.js';

/** The token endpoint's grant types. Adding a grant is adding a file and a line here. */
export const GRANTS: ReadonlyMap<string, Grant> = new Map(
  [authorizationCodeGrant, refreshTokenGrant, clientCredentialsGrant, deviceCodeGrant].map((g) => [
    g.type,
    g,
  ]),
);
