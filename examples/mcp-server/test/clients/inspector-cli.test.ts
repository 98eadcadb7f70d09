// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
 * The MCP Inspector 2.12 in `--cli` mode (`npx @modelcontextprotocol/inspector --cli <url>
 * --method tools/list`): one process per command, which connects, runs the method, prints the
 * result and exits. Its OAuth is the Inspector's own (`clients/cli/build/index.js` in the package):
 *
 * - a loopback callback listener at `--callback-url` (default `http://127.0.0.1:6276/oauth/callback`),
 *   started before it asks for the browser; each cell here has its own port;
 * - dynamic registration, or `--client-metadata-url` for a Client ID Metadata Document;
 * - sign-in needs a person: a TTY on stdin or stderr, or `MCP_AUTO_OPEN_ENABLED=true`, which makes
 *   it print `Please navigate to: <url>` on stderr and open a browser (`BROWSER=true` turns that
 *   into a no-op; the test is the browser and follows the printed URL);
 * - a step-up after 403 `insufficient_scope` asks `Proceed with step-up authorization? [y/N]` on
 *   stdin first; the person here answers `y`;
 * - registrations and tokens are kept between runs under `$HOME/.mcp-inspector/` (the OAuth state
 *   file, and with `MCP_INSPECTOR_SECRET_STORE=file` the tokens in `secrets.json`), so the next
 *   command signs in with what the last one obtained; one HOME per cell.
 */

const require = createRequire(import.meta.url);
const INSPECTOR = join(
  dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients/launcher/build/index.js',
);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The authorization URLs it printed, in order. */
  printed: URL[];
  /** Whether it asked to confirm a step-up. */
  askedStepUp: boolean;
}

class Cell {
  person!: Person;
  readonly home = mkdtempSync(join(tmpdir(), 'inspector-cli-'));
  port = 0;
  clientMetadataUrl: string | null = null;
  /** Every authorization URL the Inspector printed, across its runs. */
  readonly opened: URL[] = [];

  constructor(
    readonly stage: Stage,
    readonly variant: Variant,
    readonly registration: Registration,
    readonly name: string,
  ) {}

  get callbackUrl() {
    return `http://127.0.0.1:${this.port}/oauth/callback`;
  }

  /**
   * Runs one Inspector command. Each authorization URL it prints is opened by the person, whose
   * consent (with `tick` ticked) is followed back to the Inspector's listener.
   */
  run(method: string[], o: { tick?: string[]; stepUp?: 'y' | 'n' } = {}): Promise<Run> {
    const args = [
      INSPECTOR,
      '--cli',
      this.stage.url[this.variant],
      '--transport',
      'http',
      ...method,
      '--format',
      'json',
      '--callback-url',
      this.callbackUrl,
    ];
    if (this.clientMetadataUrl) args.push('--client-metadata-url', this.clientMetadataUrl);
    const child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: this.home,
        MCP_INSPECTOR_SECRET_STORE: 'file',
        MCP_AUTO_OPEN_ENABLED: 'true',
        BROWSER: 'true',
        NO_COLOR: '1',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const result: Run = { code: null, stdout: '', stderr: '', printed: [], askedStepUp: false };
    const signIns: Promise<void>[] = [];
    child.stdout.on('data', (d: Buffer) => (result.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      result.stderr += text;
      for (const m of text.matchAll(/Please navigate to: (\S+)/g)) {
        const url = new URL(m[1]!);
        result.printed.push(url);
        this.opened.push(url);
        signIns.push(this.signIn(url, o.tick ?? []));
      }
      if (!result.askedStepUp && /Proceed with step-up authorization\?/.test(result.stderr)) {
        result.askedStepUp = true;
        child.stdin.write(`${o.stepUp ?? 'n'}\n`);
      }
    });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill();
        reject(new Error(`the Inspector did not finish; its stderr:\n${result.stderr.slice(-4000)}`));
      }, 120_000);
      // 'close', not 'exit': the Inspector writes its error envelope just before it exits, and
      // 'exit' can come before that last chunk of stderr has been read.
      child.on('close', (code) => {
        clearTimeout(t);
        result.code = code;
        Promise.all(signIns).then(() => resolve(result), reject);
      });
    });
  }

  private async signIn(url: URL, tick: string[]) {
    const consent = await this.stage.consent(this.person, url, { tick });
    assert.equal(consent.location.origin + consent.location.pathname, this.callbackUrl);
    const status = await deliverRedirect(consent.location, 15_000);
    assert.ok(status < 400, `the Inspector's listener answered ${status}`);
  }

  /** The result of a successful command (its JSON on stdout). */
  static ok(r: Run): unknown {
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr.slice(-4000)}\nstdout:\n${r.stdout}`);
    return JSON.parse(r.stdout);
  }
}

const listTools = ['--method', 'tools/list'];
const call = (name: string, args: Record<string, string> = {}) => [
  '--method',
  'tools/call',
  '--tool-name',
  name,
  ...(Object.keys(args).length ? ['--tool-arg', ...Object.entries(args).map(([k, v]) => `${k}=${v}`)] : []),
];

describe('MCP Inspector 2.12 CLI against Latchkey', () => {
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
        c.person = await stage.person(`inspector-${c.variant}-${c.registration}`);
        if (c.registration === 'cimd')
          c.clientMetadataUrl = stage.clientDocument(`inspector-${c.variant}`, {
            client_name: 'MCP Inspector matrix client',
            redirect_uris: [c.callbackUrl],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          });
      }),
    );
  });
  after(async () => {
    for (const c of cells.values()) rmSync(c.home, { recursive: true, force: true });
    await stage?.close();
  });

  describe('connect knowing only the URL, consent, list and call tools', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const listed = await c.run(listTools);
        const tools = Cell.ok(listed) as { result: { tools: { name: string }[] } };
        assert.deepEqual(tools.result.tools.map((t) => t.name).sort(), ['deploy', 'list_notes', 'run_job']);
        assert.equal(listed.printed.length, 1, listed.stderr);
        const url = listed.printed[0]!;
        if (c.registration === 'cimd') assert.equal(url.searchParams.get('client_id'), c.clientMetadataUrl);
        else assert.match(url.searchParams.get('client_id') ?? '', /^lkc_/);
        assert.equal(url.searchParams.get('resource'), stage.url[v]);
        assert.equal(url.searchParams.get('redirect_uri'), c.callbackUrl);
        // The Inspector asks for the resource's scopes_supported whether or not the 401 names a
        // scope, plus offline_access (which Latchkey's metadata lists; Latchkey drops it).
        assert.equal(url.searchParams.get('scope'), 'mcp:read mcp:run mcp:act offline_access');
        // The next command signs in with the tokens the first one stored: nobody is asked.
        const notes = await c.run(call('list_notes'));
        assert.match(JSON.stringify(Cell.ok(notes)), /Release checklist/);
        assert.deepEqual(notes.printed, []);
        const grants = await stage.grants(c.person);
        // mcp:act is high risk: never pre-ticked, so the first consent grants read and run.
        assert.deepEqual(
          grants.map((g) => [g.resource, scopeSet(g.scopes.join(' '))]),
          [[stage.url[v], ['mcp:read', 'mcp:run']]],
        );
      });
    }
  });

  describe('step up after 403 insufficient_scope', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        const ran = await c.run(call('run_job', { job: 'test' }));
        assert.match(JSON.stringify(Cell.ok(ran)), /queued/);
        assert.deepEqual(ran.printed, []);
        if (c.registration === 'dcr') {
          // Recorded behaviour of the Inspector 2.12: without --client-id or --client-metadata-url
          // the CLI leaves a 403 to the SDK transport and then calls its own authenticate(), which
          // refreshes because it holds a refresh token (a refresh can never widen a grant, RFC
          // 6749 §6) and fails with "auth() returned AUTHORIZED without authorization code": no
          // step-up prompt, no authorization URL. The refresh-first dead end is
          // https://github.com/modelcontextprotocol/typescript-sdk/issues/2255 (which names the
          // Inspector); in the package, `authenticate` in core/mcp/oauthManager.ts, and the direct
          // recovery that does step up is switched on only by explicit OAuth options
          // (`buildRunnerClientAuthOptions`, core/client/runner.ts). Its way out is --relogin.
          const refreshed = (await stage.audit(c.person, 'oauth.token_refreshed')).length;
          const failed = await c.run(call('deploy', { environment: 'staging' }), { stepUp: 'y' });
          assert.notEqual(failed.code, 0);
          assert.equal(failed.askedStepUp, false, failed.stderr);
          assert.deepEqual(failed.printed, []);
          assert.match(failed.stderr, /auth\(\) returned AUTHORIZED without authorization code/);
          // Latchkey's side: the refresh it made kept the grant as consented, and the tokens work.
          assert.equal((await stage.audit(c.person, 'oauth.token_refreshed')).length, refreshed + 1);
          const [kept] = await stage.grants(c.person);
          assert.deepEqual(scopeSet(kept!.scopes.join(' ')), ['mcp:read', 'mcp:run']);
          assert.match(JSON.stringify(Cell.ok(await c.run(call('list_notes')))), /Release checklist/);
          // --relogin revokes the stored grant at Latchkey (RFC 7009) and signs in afresh.
          const relogin = await c.run([...call('deploy', { environment: 'staging' }), '--relogin'], {
            tick: ['mcp:act'],
          });
          assert.match(JSON.stringify(Cell.ok(relogin)), /deployed/);
          assert.doesNotMatch(relogin.stderr, /could not revoke/);
          assert.equal(relogin.printed.length, 1, relogin.stderr);
          assert.deepEqual(scopeSet(relogin.printed[0]!.searchParams.get('scope')), [
            'mcp:act',
            'mcp:read',
            'mcp:run',
            'offline_access',
          ]);
        } else {
          // A person who declines the step-up leaves the Inspector with the tokens it had.
          const declined = await c.run(call('deploy', { environment: 'staging' }), { stepUp: 'n' });
          assert.ok(declined.askedStepUp, declined.stderr);
          assert.notEqual(declined.code, 0);
          assert.deepEqual(declined.printed, []);
          assert.match(JSON.stringify(Cell.ok(await c.run(call('list_notes')))), /Release checklist/);
          const deployed = await c.run(call('deploy', { environment: 'staging' }), {
            stepUp: 'y',
            tick: ['mcp:act'],
          });
          assert.ok(deployed.askedStepUp, deployed.stderr);
          assert.match(JSON.stringify(Cell.ok(deployed)), /deployed/);
          assert.equal(deployed.printed.length, 1, deployed.stderr);
          // The challenge's scope: what is held plus what is missing.
          assert.deepEqual(scopeSet(deployed.printed[0]!.searchParams.get('scope')), [
            'mcp:act',
            'mcp:read',
            'mcp:run',
            'offline_access',
          ]);
        }
        const notes = await c.run(call('list_notes'));
        assert.match(JSON.stringify(Cell.ok(notes)), /Release checklist/);
        const [grant] = await stage.grants(c.person);
        assert.equal(grant!.resource, stage.url[v]);
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
        const notes = await c.run(call('list_notes'));
        assert.match(JSON.stringify(Cell.ok(notes)), /Release checklist/);
        assert.deepEqual(notes.printed, [], 'nobody was asked');
        assert.equal((await stage.audit(c.person, 'oauth.token_refreshed')).length, refreshedBefore + 1);
      });
    }
  });

  describe('re-authorise after the person revokes', { concurrency: true }, () => {
    for (const { name, variant: v } of CELLS) {
      it(name, async () => {
        const c = cells.get(name)!;
        await stage.revoke(c.person, v);
        const notes = await c.run(call('list_notes'), { tick: ['mcp:act'] });
        assert.match(JSON.stringify(Cell.ok(notes)), /Release checklist/);
        assert.equal(notes.printed.length, 1, notes.stderr);
        assert.equal((await stage.audit(c.person, 'oauth.grant_revoked')).length, 1);
        const [grant] = await stage.grants(c.person);
        assert.equal(grant!.resource, stage.url[v]);
      });
    }
  });
});
