// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LineDriven } from './lines.js';
import {
  ACCESS_TOKEN_LIFETIME_MS,
  CELLS,
  type Person,
  type Registration,
  scopeSet,
  type Stage,
  startStage,
  type Variant,
} from './matrix.js';

/**
 * The official Python SDK (`mcp` 2.3, in the virtualenv `.ci/run` makes; its interpreter is
 * `LATCHKEY_TEST_PYTHON`), as a separate process: `python_client.py` is an application with the
 * SDK's `OAuthClientProvider`, a loopback listener as its redirect URI, and the authorization URL
 * handed to the test, which plays the person's browser and delivers the redirect to the listener.
 *
 * Client behaviour recorded: the SDK refreshes when its own clock says the access token expired
 * (`expires_in`), before sending it; a 401 for a token it believes live starts a new
 * authorization rather than a refresh. After a revocation the person is therefore asked again,
 * which is what revocation means anyway.
 */

const PYTHON = process.env.LATCHKEY_TEST_PYTHON;
/** The scopes asked for, without `offline_access` (which this client adds when it can). */
const resourceScopes = (s: string | null) => scopeSet(s).filter((x) => x !== 'offline_access');
const SCRIPT = fileURLToPath(new URL('./python_client.py', import.meta.url));

interface Tokens {
  access_token: string | null;
  refresh_token: string | null;
  scope: string | null;
  client_id: string | null;
}

class Cell {
  app!: LineDriven;
  person!: Person;
  redirectUri = '';
  clientMetadataUrl: string | null = null;

  constructor(
    readonly stage: Stage,
    readonly variant: Variant,
    readonly registration: Registration,
    readonly name: string,
  ) {}

  async start() {
    this.app = new LineDriven(PYTHON!, [SCRIPT, this.stage.url[this.variant]], {
      ...process.env,
      PYTHONUNBUFFERED: '1',
    });
    this.redirectUri = String((await this.app.next('ready', 60_000)).redirect_uri);
    if (this.registration === 'cimd')
      this.clientMetadataUrl = this.stage.clientDocument(`py-${this.variant}`, {
        client_name: 'Python SDK matrix client',
        redirect_uris: [this.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
  }

  /**
   * Waits for the client to send the person to Latchkey, answers the consent as the person, and
   * lets the browser follow the redirect to the client's loopback listener.
   */
  async signIn(o: { tick?: string[]; deny?: boolean } = {}) {
    const url = new URL(String((await this.app.next('authorize')).url));
    const consent = await this.stage.consent(this.person, url, o);
    assert.equal(consent.location.origin + consent.location.pathname, this.redirectUri);
    const delivered = await fetch(consent.location);
    assert.equal(delivered.status, 200);
    return { url, consent };
  }

  tokens() {
    return this.app.send<Tokens>('tokens');
  }
  call(name: string, args: Record<string, unknown> = {}) {
    return this.app.send<string>('call', { name, arguments: args });
  }
}

describe(
  'Python SDK (mcp 2.3) against Latchkey',
  PYTHON ? {} : { skip: 'LATCHKEY_TEST_PYTHON is not set (.ci/run makes the virtualenv and sets it)' },
  () => {
    let stage: Stage;
    const cells = new Map<string, Cell>();

    before(async () => {
      stage = await startStage();
      for (const c of CELLS) cells.set(c.name, new Cell(stage, c.variant, c.registration, c.name));
      await Promise.all(
        [...cells.values()].map(async (c) => {
          c.person = await stage.person(`py-${c.variant}-${c.registration}`);
          await c.start();
        }),
      );
    });
    after(async () => {
      await Promise.all([...cells.values()].map((c) => c.app?.close()));
      await stage?.close();
    });

    describe('connect knowing only the URL, consent, list and call tools', { concurrency: true }, () => {
      for (const { name, variant: v } of CELLS) {
        it(name, async () => {
          const c = cells.get(name)!;
          const connected = c.app.send('connect', { client_metadata_url: c.clientMetadataUrl });
          const { url, consent } = await c.signIn();
          await connected;
          // The scope strategy: the 401's scope, else the resource's scopes_supported; plus
          // offline_access, which Latchkey's metadata lists (SEP-2207). Latchkey drops it
          // (refresh tokens follow grant_types) and the consent never shows it.
          assert.equal(
            url.searchParams.get('scope'),
            v === 'scoped' ? 'mcp:read offline_access' : 'mcp:read mcp:run mcp:act offline_access',
          );
          assert.equal(url.searchParams.get('resource'), stage.url[v]);
          assert.deepEqual(
            consent.offered?.map((s) => `${s.value}${s.checked ? '' : ' (unticked)'}`),
            v === 'scoped' ? ['mcp:read'] : ['mcp:read', 'mcp:run', 'mcp:act (unticked)'],
          );
          const t = await c.tokens();
          if (c.registration === 'cimd') assert.equal(t.client_id, c.clientMetadataUrl);
          else assert.match(t.client_id ?? '', /^lkc_/);
          assert.deepEqual(scopeSet(t.scope), v === 'scoped' ? ['mcp:read'] : ['mcp:read', 'mcp:run']);
          assert.deepEqual(await c.app.send('list_tools'), ['deploy', 'list_notes', 'run_job']);
          assert.match(await c.call('list_notes'), /Release checklist/);
          const grants = await stage.grants(c.person);
          assert.deepEqual(
            grants.map((g) => [g.client_id, g.resource]),
            [[t.client_id, stage.url[v]]],
          );
        });
      }
    });

    describe('step up after 403 insufficient_scope', { concurrency: true }, () => {
      for (const { name, variant: v } of CELLS) {
        it(name, async () => {
          const c = cells.get(name)!;
          if (v === 'scoped') {
            // run_job needs mcp:run: the SDK asks for what it held and what the 403 names.
            const ran = c.call('run_job', { job: 'test' });
            const { url } = await c.signIn();
            assert.deepEqual(resourceScopes(url.searchParams.get('scope')), ['mcp:read', 'mcp:run']);
            assert.match(await ran, /queued/);
          } else {
            assert.match(await c.call('run_job', { job: 'test' }), /queued/);
          }
          // deploy needs mcp:act: high risk, never pre-ticked; the person ticks it.
          const deployed = c.call('deploy', { environment: 'staging' });
          const { url, consent } = await c.signIn({ tick: ['mcp:act'] });
          assert.deepEqual(resourceScopes(url.searchParams.get('scope')), ['mcp:act', 'mcp:read', 'mcp:run']);
          assert.deepEqual(
            consent.offered?.find((s) => s.value === 'mcp:act'),
            { value: 'mcp:act', checked: false },
          );
          assert.match(await deployed, /deployed/);
          assert.deepEqual(scopeSet((await c.tokens()).scope), ['mcp:act', 'mcp:read', 'mcp:run']);
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
          const dead = (await c.tokens()).access_token!;
          assert.equal((await stage.introspect(v, dead)).active, false);
          // The client's clock has moved on the same hour as Latchkey's.
          await c.app.send('advance_clock', { seconds: ACCESS_TOKEN_LIFETIME_MS / 1000 + 60 });
          const refreshedBefore = (await stage.audit(c.person, 'oauth.token_refreshed')).length;
          assert.match(await c.call('list_notes'), /Release checklist/);
          assert.deepEqual(c.app.unclaimed('authorize'), [], 'nobody was asked');
          const fresh = (await c.tokens()).access_token!;
          assert.notEqual(fresh, dead);
          const live = await stage.introspect(v, fresh);
          assert.equal(live.active, true);
          assert.deepEqual(scopeSet(live.scope), ['mcp:act', 'mcp:read', 'mcp:run']);
          assert.equal((await stage.audit(c.person, 'oauth.token_refreshed')).length, refreshedBefore + 1);
        });
      }
    });

    describe('re-authorise after the person revokes', { concurrency: true }, () => {
      for (const { name, variant: v } of CELLS) {
        it(name, async () => {
          const c = cells.get(name)!;
          const revoked = await c.tokens();
          await stage.revoke(c.person, v);
          assert.equal((await stage.introspect(v, revoked.access_token!)).active, false);
          const listed = c.call('list_notes');
          const { consent } = await c.signIn({ tick: ['mcp:act'] });
          assert.notEqual(consent.offered, null, 'a revoked consent is asked again');
          assert.match(await listed, /Release checklist/);
          const now = await c.tokens();
          assert.notEqual(now.access_token, revoked.access_token);
          assert.equal((await stage.introspect(v, now.access_token!)).active, true);
          assert.equal((await stage.audit(c.person, 'oauth.grant_revoked')).length, 1);
        });
      }
    });
  },
);
