// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  auth,
  extractWWWAuthenticateParams,
  type OAuthClientProvider,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CELLS,
  type Person,
  type Registration,
  scopeSet,
  type Stage,
  startStage,
  type Variant,
} from './matrix.js';

/**
 * The official TypeScript SDK 1.x (`@modelcontextprotocol/sdk` 1.32), in process: the application
 * implements `OAuthClientProvider` (it keeps what the SDK hands it and records the authorization
 * URLs it is asked to open), and delivers the code from its redirect URI to `finishAuth`, as an
 * application with a loopback listener does. One cell per resource variant, each with its own
 * person, client registration and connection; the cells of a scenario run concurrently.
 *
 * Client bug recorded (https://github.com/modelcontextprotocol/typescript-sdk/issues/2255): on a
 * 403 `insufficient_scope` the transport runs `auth()`, which refreshes (a refresh cannot widen a
 * grant), retries, gets the same 403 and gives up ("Server returned 403 after trying upscoping")
 * without asking the person. The application then steps up itself (`stepUp` below, the recipe in
 * the example's README), keeping its working tokens until the new ones arrive.
 */

const REDIRECT_URL = 'http://127.0.0.1:8977/callback';

class AppProvider implements OAuthClientProvider {
  /** Set: the client's Client ID Metadata Document, used where Latchkey supports them. */
  clientMetadataUrl: string | undefined;
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  lastState = '';
  readonly authorizations: URL[] = [];

  get redirectUrl() {
    return REDIRECT_URL;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'TS SDK 1.x matrix client',
      client_uri: 'https://github.com/modelcontextprotocol/typescript-sdk',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.lastState = randomBytes(16).toString('base64url');
    return this.lastState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(what: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (what === 'all' || what === 'client') this.client = undefined;
    if (what === 'all' || what === 'tokens') this.saved = undefined;
    if (what === 'all' || what === 'verifier') this.verifier = '';
  }
}

/**
 * The provider as `auth()` should see it for a step-up: the stored tokens without their refresh
 * token, so that `auth()` starts an authorization instead of refreshing. The stored tokens stay
 * as they are, and keep working, until `finishAuth` saves the new ones.
 */
function withoutRefresh(p: OAuthClientProvider): OAuthClientProvider {
  return new Proxy(p, {
    get(target, key, receiver) {
      if (key === 'tokens')
        return async () => {
          const t = await target.tokens();
          return t && { ...t, refresh_token: undefined };
        };
      return Reflect.get(target, key, receiver);
    },
  });
}

interface Exchange {
  url: URL;
  method: string;
  status: number;
  grant?: string;
  challenge?: string;
}

class Cell {
  readonly provider = new AppProvider();
  readonly exchanges: Exchange[] = [];
  person!: Person;
  client!: Client;
  transport!: StreamableHTTPClientTransport;
  /** The last 403 challenge the application saw. */
  challenge: ReturnType<typeof extractWWWAuthenticateParams> = {};
  readonly clients: Client[] = [];

  constructor(
    readonly stage: Stage,
    readonly variant: Variant,
    readonly registration: Registration,
    readonly name: string,
  ) {
    if (registration === 'cimd')
      this.provider.clientMetadataUrl = stage.clientDocument(`ts1-${variant}`, {
        ...this.provider.clientMetadata,
      });
  }

  readonly fetch: FetchLike = async (input, init) => {
    const res = await fetch(input, init);
    const e: Exchange = { url: new URL(String(input)), method: init?.method ?? 'GET', status: res.status };
    if (init?.body instanceof URLSearchParams) e.grant = init.body.get('grant_type') ?? undefined;
    const challenge = res.headers.get('www-authenticate');
    if (challenge) e.challenge = challenge;
    if (res.status === 403) this.challenge = extractWWWAuthenticateParams(res);
    this.exchanges.push(e);
    return res;
  };

  grants(since: number) {
    return this.exchanges
      .slice(since)
      .filter((e) => e.grant)
      .map((e) => `${e.grant} ${e.status}`);
  }

  async connectNew() {
    this.transport = new StreamableHTTPClientTransport(new URL(this.stage.url[this.variant]), {
      authProvider: this.provider,
      fetch: this.fetch,
    });
    this.client = new Client({ name: 'ts-sdk-1-matrix', version: '1.0.0' });
    this.clients.push(this.client);
    await this.client.connect(this.transport);
  }

  /** The person opens the last authorization URL; the application hands the code to the transport. */
  async signIn(o: { tick?: string[] } = {}) {
    const url = this.provider.authorizations.at(-1);
    assert.ok(url);
    const consent = await this.stage.consent(this.person, url, o);
    assert.equal(consent.location.origin + consent.location.pathname, REDIRECT_URL);
    assert.equal(consent.location.searchParams.get('state'), this.provider.lastState);
    await this.transport.finishAuth(consent.location.searchParams.get('code')!);
    return consent;
  }

  async call(name: string, args: Record<string, unknown> = {}) {
    const r = await this.client.callTool({ name, arguments: args });
    assert.notEqual(r.isError, true, JSON.stringify(r.content));
    return JSON.stringify(r.content);
  }

  /** The application's step-up after the SDK gave up on a 403 (see the README). */
  async stepUp(o: { tick?: string[]; deny?: boolean } = {}) {
    assert.equal(this.challenge.error, 'insufficient_scope');
    const before = this.provider.authorizations.length;
    const started = await auth(withoutRefresh(this.provider), {
      serverUrl: new URL(this.stage.url[this.variant]),
      scope: this.challenge.scope,
      resourceMetadataUrl: this.challenge.resourceMetadataUrl,
      fetchFn: this.fetch,
    });
    assert.equal(started, 'REDIRECT');
    assert.equal(this.provider.authorizations.length, before + 1);
    if (o.deny) return this.stage.consent(this.person, this.provider.authorizations.at(-1)!, { deny: true });
    return this.signIn(o);
  }

  async expectStepUpRefused(name: string, args: Record<string, unknown>) {
    const mark = this.exchanges.length;
    const authorizations = this.provider.authorizations.length;
    await assert.rejects(
      this.client.callTool({ name, arguments: args }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
    // The client's bug (typescript-sdk#2255): a refresh, the same 403, and no authorization.
    assert.deepEqual(this.grants(mark), ['refresh_token 200']);
    assert.equal(this.provider.authorizations.length, authorizations);
  }
}

describe('TypeScript SDK 1.x (@modelcontextprotocol/sdk 1.32) against Latchkey', () => {
  let stage: Stage;
  const cells = new Map<string, Cell>();

  before(async () => {
    stage = await startStage();
    for (const c of CELLS) cells.set(c.name, new Cell(stage, c.variant, c.registration, c.name));
    await Promise.all(
      [...cells.values()].map(
        async (c) => (c.person = await stage.person(`ts1-${c.variant}-${c.registration}`)),
      ),
    );
  });
  after(async () => {
    for (const c of cells.values()) for (const client of c.clients) await client.close();
    await stage?.close();
  });

  describe('connect knowing only the URL, consent, list and call tools', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        await assert.rejects(c.connectNew(), UnauthorizedError);
        const first = c.exchanges[0]!;
        assert.equal(first.status, 401);
        assert.equal(
          first.challenge,
          v === 'scoped'
            ? `Bearer scope="mcp:read", resource_metadata="${stage.metadataUrl[v]}"`
            : `Bearer resource_metadata="${stage.metadataUrl[v]}"`,
        );
        const registered = c.exchanges.filter((e) => e.url.pathname === '/api/oauth/register');
        if (c.registration === 'dcr')
          assert.deepEqual(
            registered.map((e) => e.status),
            [201],
          );
        else {
          assert.deepEqual(registered, [], 'a metadata document needs no registration');
          assert.equal(
            c.provider.authorizations[0]!.searchParams.get('client_id'),
            c.provider.clientMetadataUrl,
          );
        }
        // The scope strategy: the 401's scope, else the resource's scopes_supported.
        const asked = c.provider.authorizations[0]!.searchParams.get('scope');
        assert.equal(asked, v === 'scoped' ? 'mcp:read' : 'mcp:read mcp:run mcp:act');
        const consent = await c.signIn();
        assert.deepEqual(
          consent.offered,
          v === 'scoped'
            ? [{ value: 'mcp:read', checked: true }]
            : [
                { value: 'mcp:read', checked: true },
                { value: 'mcp:run', checked: true },
                { value: 'mcp:act', checked: false },
              ],
        );
        assert.deepEqual(
          scopeSet(c.provider.saved?.scope),
          v === 'scoped' ? ['mcp:read'] : ['mcp:read', 'mcp:run'],
        );
        await c.connectNew();
        const tools = await c.client.listTools();
        assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['deploy', 'list_notes', 'run_job']);
        assert.match(await c.call('list_notes'), /Release checklist/);
        // Latchkey's side: the grant holds what the person approved, at this resource only.
        const grants = await stage.grants(c.person);
        assert.deepEqual(
          grants.map((g) => [g.resource, scopeSet(g.scopes.join(' '))]),
          [[stage.url[v], v === 'scoped' ? ['mcp:read'] : ['mcp:read', 'mcp:run']]],
        );
      });
    }
  });

  describe('step up after 403 insufficient_scope', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        if (v === 'scoped') {
          // run_job needs mcp:run, which the first consent did not cover.
          await c.expectStepUpRefused('run_job', { job: 'test' });
          assert.equal(c.challenge.scope, 'mcp:read mcp:run');
          // The person says no: the application keeps the tokens it had, and they still work.
          const held = c.provider.saved?.access_token;
          await c.stepUp({ deny: true });
          assert.equal(c.provider.saved?.access_token, held);
          assert.match(await c.call('list_notes'), /Release checklist/);
          const consent = await c.stepUp();
          assert.deepEqual(consent.offered, [
            { value: 'mcp:read', checked: true },
            { value: 'mcp:run', checked: true },
          ]);
          assert.match(await c.call('run_job', { job: 'test' }), /queued/);
        } else {
          assert.match(await c.call('run_job', { job: 'test' }), /queued/);
        }
        // deploy needs mcp:act, high risk: never pre-ticked, the person ticks it.
        await c.expectStepUpRefused('deploy', { environment: 'staging' });
        assert.equal(c.challenge.scope, 'mcp:read mcp:run mcp:act');
        const consent = await c.stepUp({ tick: ['mcp:act'] });
        assert.deepEqual(
          consent.offered?.find((s) => s.value === 'mcp:act'),
          { value: 'mcp:act', checked: false },
        );
        assert.deepEqual(scopeSet(c.provider.saved?.scope), ['mcp:act', 'mcp:read', 'mcp:run']);
        assert.match(await c.call('deploy', { environment: 'staging' }), /deployed/);
        assert.match(await c.call('list_notes'), /Release checklist/);
        const [grant] = await stage.grants(c.person);
        assert.deepEqual(scopeSet(grant!.scopes.join(' ')), ['mcp:act', 'mcp:read', 'mcp:run']);
      });
    }
  });

  describe('refresh after the access token dies', { concurrency: true }, () => {
    before(() => stage.expireAccessTokens());
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const dead = c.provider.saved!.access_token;
        assert.equal((await stage.introspect(v, dead)).active, false);
        const mark = c.exchanges.length;
        const authorizations = c.provider.authorizations.length;
        assert.match(await c.call('list_notes'), /Release checklist/);
        assert.equal(c.exchanges[mark]!.status, 401);
        assert.match(c.exchanges[mark]!.challenge ?? '', /error="invalid_token"/);
        assert.deepEqual(c.grants(mark), ['refresh_token 200']);
        assert.equal(c.provider.authorizations.length, authorizations, 'nobody was asked');
        const fresh = c.provider.saved!.access_token;
        assert.notEqual(fresh, dead);
        const live = await stage.introspect(v, fresh);
        assert.equal(live.active, true);
        assert.deepEqual(scopeSet(live.scope), ['mcp:act', 'mcp:read', 'mcp:run']);
        assert.ok((await stage.audit(c.person, 'oauth.token_refreshed')).length >= 1);
      });
    }
  });

  describe('re-authorise after the person revokes', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const revoked = c.provider.saved!;
        await stage.revoke(c.person, v);
        assert.equal((await stage.introspect(v, revoked.access_token)).active, false);
        const mark = c.exchanges.length;
        const authorizations = c.provider.authorizations.length;
        await assert.rejects(c.call('list_notes'), UnauthorizedError);
        assert.equal(c.exchanges[mark]!.status, 401);
        // The refresh token died with the grant: the client asks the person again.
        assert.deepEqual(c.grants(mark), ['refresh_token 400']);
        assert.equal(c.provider.authorizations.length, authorizations + 1);
        const consent = await c.signIn({ tick: ['mcp:act'] });
        assert.notEqual(consent.offered, null, 'a revoked consent is asked again');
        await c.connectNew();
        assert.match(await c.call('list_notes'), /Release checklist/);
        assert.equal((await stage.audit(c.person, 'oauth.grant_revoked')).length, 1);
      });
    }
  });
});
