// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  type FetchLike,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthTokens,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
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
 * The TypeScript client 2.x (`@modelcontextprotocol/client` 2.4), in process: the application
 * implements `OAuthClientProvider` (it keeps what the client hands it and records the
 * authorization URLs it is asked to open), and delivers the code from its redirect URI to
 * `finishAuth`, as an application with a loopback listener does. One cell per resource variant ×
 * registration, each with its own person, client and connection; a scenario's cells run
 * concurrently.
 *
 * On a 403 `insufficient_scope` this client steps up by itself (SEP-2350: held ∪ challenged
 * scopes, and no refresh when that is wider than the token): it sends the person to Latchkey and
 * the call rejects with `UnauthorizedError` until the application finishes the authorization.
 */

/** The scopes asked for, without `offline_access` (which this client adds when it can). */
const resourceScopes = (s: string | null) => scopeSet(s).filter((x) => x !== 'offline_access');

const REDIRECT_URL = 'http://127.0.0.1:8978/callback';

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
      client_name: 'TS client 2.x matrix client',
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
  readonly clients: Client[] = [];

  constructor(
    readonly stage: Stage,
    readonly variant: Variant,
    readonly registration: Registration,
    readonly name: string,
  ) {
    if (registration === 'cimd')
      this.provider.clientMetadataUrl = stage.clientDocument(`ts2-${variant}`, {
        ...this.provider.clientMetadata,
      });
  }

  readonly fetch: FetchLike = async (input, init) => {
    const res = await fetch(input, init);
    const e: Exchange = { url: new URL(String(input)), method: init?.method ?? 'GET', status: res.status };
    if (init?.body instanceof URLSearchParams) e.grant = init.body.get('grant_type') ?? undefined;
    const challenge = res.headers.get('www-authenticate');
    if (challenge) e.challenge = challenge;
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
    this.client = new Client({ name: 'ts-client-2-matrix', version: '1.0.0' });
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
    await this.transport.finishAuth(consent.location.searchParams);
    return consent;
  }

  async call(name: string, args: Record<string, unknown> = {}) {
    const r = await this.client.callTool({ name, arguments: args });
    assert.notEqual(r.isError, true, JSON.stringify(r.content));
    return JSON.stringify(r.content);
  }

  /**
   * Calls a tool the token lacks the scope for: the client steps up by itself, the call rejects
   * with UnauthorizedError while the person decides; approved, the code is delivered and the
   * call is made again by the test.
   */
  async stepUp(name: string, args: Record<string, unknown>, o: { tick?: string[]; deny?: boolean } = {}) {
    const mark = this.exchanges.length;
    const before = this.provider.authorizations.length;
    await assert.rejects(this.client.callTool({ name, arguments: args }), UnauthorizedError);
    const refused = this.exchanges.slice(mark).find((e) => e.status === 403);
    assert.match(refused?.challenge ?? '', /error="insufficient_scope"/);
    assert.deepEqual(this.grants(mark), [], 'no refresh: it cannot widen the grant');
    assert.equal(this.provider.authorizations.length, before + 1);
    if (o.deny) return this.stage.consent(this.person, this.provider.authorizations.at(-1)!, { deny: true });
    return this.signIn(o);
  }
}

describe('TypeScript client 2.x (@modelcontextprotocol/client 2.4) against Latchkey', () => {
  let stage: Stage;
  const cells = new Map<string, Cell>();

  before(async () => {
    stage = await startStage();
    for (const c of CELLS) cells.set(c.name, new Cell(stage, c.variant, c.registration, c.name));
    await Promise.all(
      [...cells.values()].map(
        async (c) => (c.person = await stage.person(`ts2-${c.variant}-${c.registration}`)),
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
        // plus offline_access, which Latchkey's metadata lists, for a refresh token (SEP-2207);
        // Latchkey drops it (refresh tokens follow grant_types) and the consent never shows it.
        assert.equal(
          asked,
          v === 'scoped' ? 'mcp:read offline_access' : 'mcp:read mcp:run mcp:act offline_access',
        );
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
          // run_job needs mcp:run, which the first consent did not cover. The person says no
          // first: the application keeps the tokens it had, and they still work.
          const held = c.provider.saved?.access_token;
          await c.stepUp('run_job', { job: 'test' }, { deny: true });
          assert.deepEqual(resourceScopes(c.provider.authorizations.at(-1)!.searchParams.get('scope')), [
            'mcp:read',
            'mcp:run',
          ]);
          assert.equal(c.provider.saved?.access_token, held);
          assert.match(await c.call('list_notes'), /Release checklist/);
          const consent = await c.stepUp('run_job', { job: 'test' });
          assert.deepEqual(consent.offered, [
            { value: 'mcp:read', checked: true },
            { value: 'mcp:run', checked: true },
          ]);
        }
        assert.match(await c.call('run_job', { job: 'test' }), /queued/);
        // deploy needs mcp:act, high risk: never pre-ticked, the person ticks it.
        const consent = await c.stepUp('deploy', { environment: 'staging' }, { tick: ['mcp:act'] });
        assert.deepEqual(resourceScopes(c.provider.authorizations.at(-1)!.searchParams.get('scope')), [
          'mcp:act',
          'mcp:read',
          'mcp:run',
        ]);
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
        assert.match(await c.call('list_notes'), /Release checklist/);
        assert.equal((await stage.audit(c.person, 'oauth.grant_revoked')).length, 1);
      });
    }
  });
});
