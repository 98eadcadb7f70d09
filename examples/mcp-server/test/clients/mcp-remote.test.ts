// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CELLS,
  deliverRedirect,
  freePorts,
  type Person,
  type Registration,
  scopeSet,
  type Stage,
  startStage,
  type Variant,
} from './matrix.js';

/**
 * mcp-remote 0.15, the stdio bridge that MCP hosts without remote-server support (Claude Desktop's
 * config file, older Cursor and Windsurf) run as `npx mcp-remote <url>`. The test is the host: it
 * starts the real `mcp-remote` process and speaks MCP to it over stdio with the official client.
 * mcp-remote does the OAuth itself: registration (or `--client-metadata-url`), its callback
 * listener on `localhost:<port>`, its token files (`MCP_REMOTE_CONFIG_DIR`, one folder per cell).
 * It prints the authorization URL and tries to open a browser; `BROWSER=true` makes that a no-op,
 * and the test plays the browser: it opens the printed URL, answers the consent, and follows the
 * redirect to mcp-remote's listener.
 */

const require = createRequire(import.meta.url);
const PROXY = join(dirname(require.resolve('mcp-remote/package.json')), 'dist/proxy.js');

class Cell {
  person!: Person;
  client!: Client;
  transport!: StdioClientTransport;
  readonly configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-'));
  port = 0;
  clientMetadataUrl: string | null = null;
  stderr = '';
  /** Authorization URLs mcp-remote printed that the test has not opened yet. */
  private readonly printed: string[] = [];
  private waiting: ((url: string) => void) | null = null;
  readonly opened: URL[] = [];

  constructor(
    readonly stage: Stage,
    readonly variant: Variant,
    readonly registration: Registration,
    readonly name: string,
  ) {}

  get redirectUri() {
    return `http://localhost:${this.port}/oauth/callback`;
  }

  /** Starts mcp-remote and the MCP session through it (resolves once `initialize` is answered). */
  connect(): Promise<void> {
    const args = [PROXY, this.stage.url[this.variant], String(this.port), '--auth-timeout', '60'];
    if (this.clientMetadataUrl) args.push('--client-metadata-url', this.clientMetadataUrl);
    this.transport = new StdioClientTransport({
      command: process.execPath,
      args,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: this.configDir,
        MCP_REMOTE_CONFIG_DIR: this.configDir,
        BROWSER: 'true',
      },
      stderr: 'pipe',
    });
    this.transport.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      for (const m of d.toString().matchAll(/https?:\/\/\S+\/api\/oauth\/authorize\?\S+/g)) {
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(m[0]);
        } else this.printed.push(m[0]);
      }
    });
    this.client = new Client({ name: 'mcp-remote-matrix-host', version: '1.0.0' });
    return this.client.connect(this.transport);
  }

  nextAuthorization(ms = 90_000): Promise<URL> {
    const ready = this.printed.shift();
    if (ready) return Promise.resolve(new URL(ready));
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(new Error(`mcp-remote printed no authorization URL; its log:\n${this.stderr.slice(-4000)}`)),
        ms,
      );
      this.waiting = (u) => {
        clearTimeout(t);
        resolve(new URL(u));
      };
    });
  }

  /** Opens the printed URL as the person, answers the consent, follows the redirect to mcp-remote. */
  async signIn(o: { tick?: string[] } = {}) {
    const url = await this.nextAuthorization();
    this.opened.push(url);
    const consent = await this.stage.consent(this.person, url, o);
    assert.equal(consent.location.origin + consent.location.pathname, this.redirectUri);
    const status = await deliverRedirect(consent.location, 15_000).catch((err: unknown) => {
      throw new Error(
        `mcp-remote's listener is gone (${String(err)}); its log:\n${this.stderr.slice(-4000)}`,
      );
    });
    assert.ok(status < 400, `mcp-remote's listener answered ${status}`);
    return { url, consent };
  }

  async call(name: string, args: Record<string, unknown> = {}) {
    const r = await this.client.callTool({ name, arguments: args });
    assert.notEqual(r.isError, true, `${JSON.stringify(r.content)}\n${this.stderr.slice(-3000)}`);
    return JSON.stringify(r.content);
  }

  unopened() {
    return [...this.printed];
  }
}

describe('mcp-remote 0.15 (stdio bridge) against Latchkey', () => {
  let stage: Stage;
  const cells = new Map<string, Cell>();

  before(async () => {
    stage = await startStage();
    const ports = await freePorts(CELLS.length);
    CELLS.forEach((c, i) => {
      const cell = new Cell(stage, c.variant, c.registration, c.name);
      cell.port = ports[i]!;
      cells.set(c.name, cell);
    });
    await Promise.all(
      [...cells.values()].map(async (c) => {
        c.person = await stage.person(`remote-${c.variant}-${c.registration}`);
        if (c.registration === 'cimd')
          c.clientMetadataUrl = stage.clientDocument(`remote-${c.variant}`, {
            client_name: 'mcp-remote matrix client',
            redirect_uris: [c.redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          });
      }),
    );
  });
  after(async () => {
    for (const c of cells.values()) {
      await c.client?.close().catch(() => undefined);
      rmSync(c.configDir, { recursive: true, force: true });
    }
    await stage?.close();
  });

  describe('connect knowing only the URL, consent, list and call tools', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const connected = c.connect();
        const { url, consent } = await c.signIn();
        await connected.catch((err: unknown) => {
          throw new Error(`${String(err)}; mcp-remote's log:\n${c.stderr.slice(-4000)}`);
        });
        if (c.registration === 'cimd') assert.equal(url.searchParams.get('client_id'), c.clientMetadataUrl);
        else assert.match(url.searchParams.get('client_id') ?? '', /^lkc_/);
        assert.equal(url.searchParams.get('resource'), stage.url[v]);
        // The 401's scope, else the resource's scopes_supported; plus offline_access, which
        // Latchkey's metadata lists, for a refresh token (SEP-2207).
        assert.equal(
          url.searchParams.get('scope'),
          v === 'scoped' ? 'mcp:read offline_access' : 'mcp:read mcp:run mcp:act offline_access',
        );
        assert.deepEqual(
          consent.offered?.map((s) => `${s.value}${s.checked ? '' : ' (unticked)'}`),
          v === 'scoped' ? ['mcp:read'] : ['mcp:read', 'mcp:run', 'mcp:act (unticked)'],
        );
        const tools = await c.client.listTools();
        assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['deploy', 'list_notes', 'run_job']);
        assert.match(await c.call('list_notes'), /Release checklist/);
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
          const ran = c.call('run_job', { job: 'test' });
          const { url } = await c.signIn();
          assert.deepEqual(scopeSet(url.searchParams.get('scope')), [
            'mcp:read',
            'mcp:run',
            'offline_access',
          ]);
          assert.match(await ran, /queued/);
        } else {
          assert.match(await c.call('run_job', { job: 'test' }), /queued/);
        }
        const deployed = c.call('deploy', { environment: 'staging' });
        const { url, consent } = await c.signIn({ tick: ['mcp:act'] });
        assert.deepEqual(scopeSet(url.searchParams.get('scope')), [
          'mcp:act',
          'mcp:read',
          'mcp:run',
          'offline_access',
        ]);
        assert.deepEqual(
          consent.offered?.find((s) => s.value === 'mcp:act'),
          { value: 'mcp:act', checked: false },
        );
        assert.match(await deployed, /deployed/);
        assert.match(await c.call('list_notes'), /Release checklist/);
        // offline_access is not a scope of the resource: the grant holds the resource's scopes.
        const [grant] = await stage.grants(c.person);
        assert.deepEqual(scopeSet(grant!.scopes.join(' ')), ['mcp:act', 'mcp:read', 'mcp:run']);
      });
    }
  });

  describe('refresh after the access token dies', { concurrency: true }, () => {
    before(() => stage.expireAccessTokens());
    for (const { name } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const refreshedBefore = (await stage.audit(c.person, 'oauth.token_refreshed')).length;
        const opened = c.opened.length;
        assert.match(await c.call('list_notes'), /Release checklist/);
        assert.equal(c.opened.length, opened);
        assert.deepEqual(c.unopened(), [], 'nobody was asked');
        assert.equal((await stage.audit(c.person, 'oauth.token_refreshed')).length, refreshedBefore + 1);
      });
    }
  });

  describe('re-authorise after the person revokes', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        await stage.revoke(c.person, v);
        const listed = c.call('list_notes');
        const { consent } = await c.signIn({ tick: ['mcp:act'] });
        assert.notEqual(consent.offered, null, 'a revoked consent is asked again');
        assert.match(await listed, /Release checklist/);
        assert.equal((await stage.audit(c.person, 'oauth.grant_revoked')).length, 1);
        const [grant] = await stage.grants(c.person);
        assert.equal(grant!.resource, stage.url[v]);
      });
    }
  });
});
