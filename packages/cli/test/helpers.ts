import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import {
  DEFAULT_PASSWORD,
  formFields,
  linkIn,
  readOutbox,
  testServer,
  type TestServer,
  tokenFrom,
  uniqueEmail,
} from '@latchkey/server/testing';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'packages/cli/src/main.ts');
/** The repository's TypeScript hooks (scripts/ts-hooks.mjs), as the test runner uses. */
const LOADER = join(ROOT, 'scripts/ts-register.mjs');
/** A CLI run that takes longer than this is a hang: it is killed and the test fails. */
const RUN_TIMEOUT_MS = 60_000;

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Resolves with the first match of `re` in what the CLI has written so far (stdout + stderr). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  done: Promise<Result>;
}

/** A private home for the CLI: HOME and XDG_CONFIG_HOME under one temp folder. */
export function tempHome(): { home: string; xdg: string; configPath: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  const xdg = join(home, 'xdg');
  return {
    home,
    xdg,
    configPath: join(xdg, 'latchkey', 'config.toml'),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

export interface CliOptions {
  home: string;
  /** Set XDG_CONFIG_HOME to this (the default: `<home>/xdg`); null leaves it unset. */
  xdg?: string | null;
  env?: Record<string, string>;
  /** Kill the run after this long (default RUN_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Starts the real `latchkey` binary (the TypeScript entry point, compiled on load), with a clean
 * environment: nothing of ours leaks in, HOME is private. Never blocks this process, which
 * may be serving the Latchkey it talks to.
 */
const live = new Set<ChildProcess>();

/** Kills every CLI process a test left running (a failed test must not wait for their timeouts). */
export function stopAll(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

export function cli(args: string[], o: CliOptions): Running {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: o.home,
    NO_COLOR: '1',
    ...(o.xdg === null ? {} : { XDG_CONFIG_HOME: o.xdg ?? join(o.home, 'xdg') }),
    ...o.env,
  };
  const child = spawn(process.execPath, ['--import', LOADER, MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve(m: RegExpMatchArray): void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = (stdout + stderr).match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? RUN_TIMEOUT_MS);
  const done = new Promise<Result>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void done.then((r) => reject(new Error(`exited (${r.code}) before printing ${re}:\n${r.stderr}`)));
      }),
  };
}

export const run = (args: string[], o: CliOptions) => cli(args, o).done;

/** Parses stdout as the one JSON document a `--json` run prints. */
export function json<T = Record<string, unknown>>(r: Result): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/** No stack trace, no Node internals in what the CLI printed. */
export function assertNoStack(r: Result): void {
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at |node:internal|\.ts:\d+:\d+/);
}

export function readToml(path: string): Record<string, any> {
  return parse(readFileSync(path, 'utf8')) as Record<string, any>;
}

/** A port nobody listens on right now (on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** An in-process Latchkey listening on 127.0.0.1, its PUBLIC_URL the URL the CLI uses. */
export async function startLatchkey(
  env: Record<string, string> = {},
): Promise<{ t: TestServer; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t = await testServer({ env: { PUBLIC_URL: url, PORT: String(port), ...env } });
  await t.app.listen({ port, host: '127.0.0.1' });
  return { t, url };
}

export type Browser = ReturnType<typeof browser>;

/** A browser without JavaScript: keeps the session cookie, sends the Origin on POSTs, never follows redirects. */
export function browser(base: string) {
  let cookie = '';
  return async (path: string, init: { form?: URLSearchParams; json?: unknown } = {}) => {
    const method = init.form || init.json !== undefined ? 'POST' : 'GET';
    const headers: Record<string, string> = {};
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = init.form.toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    if (method === 'POST') headers.origin = new URL(base).origin;
    const res = await fetch(new URL(path, base), { method, headers, body, redirect: 'manual' });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('lk_session='));
    if (set) cookie = set.split(';')[0]!;
    return res;
  };
}

/**
 * Signs a fresh person up in `b`; returns who they are and their personal org. With the server
 * `t`, the address is then proven through the link mailed to it (an unproven account cannot mint
 * tokens).
 */
export async function signUp(b: Browser, t?: TestServer) {
  const email = uniqueEmail('cli');
  const res = await b('/api/auth/signup', {
    json: { email, password: DEFAULT_PASSWORD, name: 'CLI Person' },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { user: { id: string }; org: { id: string; slug: string } };
  if (t) {
    const mail = (await readOutbox(t.outboxDir))
      .filter((m) => m.to === email && /\/verify-email/.test(m.text))
      .at(-1);
    assert.ok(mail, `no verification mail to ${email}`);
    const token = tokenFrom(linkIn(mail.text, `${t.deps.config.publicUrl}/verify-email`));
    const done = await b('/verify-email', { form: new URLSearchParams({ token }) });
    assert.equal(done.status, 200, await done.clone().text());
  }
  return { email, id: body.user.id, org: body.org };
}

/** Submits a consent form: its hidden fields, the first org, every scope ticked (high-risk ones too). */
async function consent(b: Browser, html: string, decision: 'approve' | 'deny' = 'approve') {
  const f = formFields(html);
  const form = new URLSearchParams(f.hidden);
  if (!f.hidden.org_id && f.orgs[0]) form.set('org_id', f.orgs[0]);
  for (const s of f.scopes) form.append('scope', s.value);
  form.set('decision', decision);
  return b(f.action!, { form });
}

/** The person enters the user code at /device and approves every scope asked for (or denies). */
export async function approveDevice(
  b: Browser,
  userCode: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<void> {
  const entry = await b(`/device?user_code=${encodeURIComponent(userCode)}`);
  assert.equal(entry.status, 200);
  const f = formFields(await entry.text());
  const page = await b('/device', { form: new URLSearchParams({ ...f.hidden, user_code: userCode }) });
  assert.equal(page.status, 200, await page.clone().text());
  const done = await consent(b, await page.text(), decision);
  assert.equal(done.status, 200, await done.clone().text());
}

/** The person opens the authorize URL, approves, and gets the redirect back to the CLI's listener. */
export async function approveAuthorize(b: Browser, authorizeUrl: string): Promise<URL> {
  const u = new URL(authorizeUrl);
  const page = await b(u.pathname + u.search);
  // Consented before (the same client, person and scopes): straight back with a code.
  if (page.status === 303) return new URL(page.headers.get('location')!);
  assert.equal(page.status, 200, await page.clone().text());
  const decided = await consent(b, await page.text());
  assert.equal(decided.status, 303, await decided.clone().text());
  return new URL(decided.headers.get('location')!);
}

/** `latchkey login` through the device flow, with `b` (signed in) approving it. */
export async function deviceLogin(
  o: CliOptions & { server: string; b: Browser; args?: string[]; decision?: 'approve' | 'deny' },
) {
  const login = cli(['login', '--server', o.server, ...(o.args ?? [])], o);
  const [, code] = await login.waitFor(/user_code=([A-Z]{4}-[A-Z]{4})/);
  await approveDevice(o.b, code!, o.decision);
  return login.done;
}
