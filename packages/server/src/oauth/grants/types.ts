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
  /**
   * The client is this node's cached copy, used without reading the shared change log first: a
   * grant that `provesClientCurrent` must then check it against the stored row.
   */
  readonly clientUnsynced: boolean;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly actor: Actor;
}

export type TokenResponse = ReturnType<typeof tokenResponse>;

/** A grant type: one file each under `grants/`, looked up by `grant_type` in `grants/index.ts`. */
export interface Grant {
  readonly type: string;
  /**
   * Given a client not checked against the shared change log (`clientUnsynced`), the grant acts
   * only on the client as it is stored now: its statement writes nothing and it throws
   * `ClientChanged` when the client's row is no longer the version the request was authenticated
   * against; and it refuses nothing after writing. The token endpoint then tries it with this
   * node's cached client before reading the change log (`endpoints/token.ts`).
   */
  readonly provesClientCurrent?: boolean;
  handle(req: GrantRequest): Promise<TokenResponse>;
}

/** The client was changed or deleted since the request read it: nothing was written. */
export class ClientChanged extends Error {
  constructor(readonly clientId: string) {
    super('The client changed while the request ran.');
  }
}
