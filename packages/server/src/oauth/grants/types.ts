import type { Actor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import type { KeyStore } from '../oidc/key-store.js';
import type { Catalogue } from '../../tokens/catalogue.js';
import type { Client } from '../store/clients.js';
import type { tokenResponse } from '../store/tokens.js';

/** What the OAuth endpoints are built from: the app's dependencies, the resource catalogue and the signing keys. */
export interface OAuthDeps extends Deps {
  readonly catalogue: Catalogue;
  readonly keys: KeyStore;
}

/** One token request, after client authentication. Parameters are single-valued strings. */
export interface GrantRequest {
  readonly deps: OAuthDeps;
  readonly client: Client;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly actor: Actor;
}

export type TokenResponse = ReturnType<typeof tokenResponse>;

/** A grant type: one file each under `grants/`, looked up by `grant_type` in `grants/index.ts`. */
export interface Grant {
  readonly type: string;
  handle(req: GrantRequest): Promise<TokenResponse>;
}
