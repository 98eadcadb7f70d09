import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { simpleParser } from 'mailparser';
import { loadConfig } from '../../src/config/index.js';
import type { Deps } from '../../src/deps.js';
import { buildApp } from '../../src/app.js';
import { AuthCache } from '../../src/auth/credential-cache.js';
import { shareGroupCommit } from '../../src/db/group-commit.js';
import { createLogger } from '../../src/http/logging.js';
import type { App } from '../../src/http/types.js';
import { type Clock, systemClock } from '../../src/lib/clock.js';
import { createMailer } from '../../src/mail/mailer.js';
import { dnsServersSetting } from './dns.js';
import { openTestStorage, type TestStorage } from './storage.js';

export const PUBLIC_URL = 'http://localhost:8484';
export const TEST_SECRET = 'test-latchkey-secret-0123456789abcdef';

export interface TestServer {
  app: App;
  deps: Deps;
  storage: TestStorage;
  /** Every log line the server wrote, as raw JSON text. */
  logs: string[];
  outboxDir: string;
  queries: QueryCounter;
  client(opts?: { ip?: string }): Client;
  close(): Promise<void>;
}

export interface TestServerOptions {
  clock?: Clock;
  env?: Record<string, string>;
  /** Reuse storage (e.g. to restart an app over the same database). */
  storage?: TestStorage;
  /** Contents of the latchkey.toml the server reads (resources, scopes). */
  toml?: string;
}

/** Counts the queries the app sends to the database (a Kysely plugin on the app's handle). */
export class QueryCounter {
  count = 0;
  readonly #nodes: unknown[] = [];
  transformQuery<T extends { node: unknown }>(args: T): T['node'] {
    this.count++;
    this.#nodes.push(args.node);
    return args.node;
  }
  /**
   * How many queries since the `count` was `since` name one of `tables`. Background work (a
   * webhook poll, a usage flush) may query meanwhile; this asks only about the tables named.
   */
  touching(since: number, tables: string[]): number {
    return this.#nodes.slice(since).filter((n) => {
      const text = JSON.stringify(n);
      return tables.some((t) => new RegExp(`\\b${t}\\b`).test(text));
    }).length;
  }
  /** The nodes of the queries since `since` that name `table` (to compile and inspect). */
  nodesTouching(since: number, table: string): unknown[] {
    return this.#nodes.slice(since).filter((n) => new RegExp(`\\b${table}\\b`).test(JSON.stringify(n)));
  }
  async transformResult<T extends { result: unknown }>(args: T): Promise<T['result']> {
    return args.result;
  }
}

/** An in-process Latchkey over fresh storage of the current backend, with its outbox in a temp folder. */
export async function testServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  if (opts.toml !== undefined) writeFileSync(join(dir, 'latchkey.toml'), opts.toml);
  const config = loadConfig({
    cwd: dir,
    env: {
      PUBLIC_URL,
      LATCHKEY_DATA_DIR: dir,
      LOG_LEVEL: 'info',
      // Every lookup the server makes goes to this process's DNS server on loopback (test/helpers/dns.ts).
      DNS_SERVERS: await dnsServersSetting(),
      // One secret for every test server, so a restart over the same storage opens what it sealed.
      LATCHKEY_SECRET: TEST_SECRET,
      ...opts.env,
    },
  });
  const storage = opts.storage ?? (await openTestStorage());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const log = createLogger('info', sink);
  const outboxDir = join(dir, 'outbox');
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir, log });
  const queries = new QueryCounter();
  const db = storage.storage.db.withPlugin(queries as never);
  // Grants commit in groups here as they do in a server.
  shareGroupCommit(storage.storage.db, db);
  const deps: Deps = {
    config,
    storage: storage.storage,
    db,
    cache: storage.cache,
    clock: opts.clock ?? systemClock,
    mailer,
    auth: new AuthCache(storage.cache, config.authCacheEntries, () =>
      (opts.clock ?? systemClock).now().getTime(),
    ),
  };
  const app = await buildApp(deps, log);
  await app.ready();
  OUTBOXES.set(app, outboxDir);
  let n = 0;
  return {
    app,
    deps,
    storage,
    logs,
    outboxDir,
    queries,
    client: (o = {}) =>
      new Client(
        app,
        o.ip ?? `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${++n % 250}`,
      ),
    async close() {
      await app.close();
      mailer.close();
      if (!opts.storage) await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Req {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send `x-org-id`. */
  org?: string;
}

/** A browser-like client: keeps the session cookie, sends our Origin on unsafe requests. */
export class Client {
  cookie: string | null = null;
  constructor(
    readonly app: App,
    readonly ip: string,
  ) {}

  async req(r: Req): Promise<LightMyRequestResponse> {
    const method = r.method ?? 'GET';
    const headers: Record<string, string> = { ...r.headers };
    if (this.cookie && headers.cookie === undefined) headers.cookie = `lk_session=${this.cookie}`;
    if (r.org) headers['x-org-id'] = r.org;
    if (method !== 'GET' && method !== 'HEAD' && headers.origin === undefined) headers.origin = PUBLIC_URL;
    const res = await this.app.inject({
      method,
      url: r.url,
      headers,
      remoteAddress: this.ip,
      ...(r.body !== undefined ? { payload: r.body as object } : {}),
    });
    const set = res.cookies.find((c) => c.name === 'lk_session');
    if (set)
      this.cookie = set.value === '' || (set.maxAge !== undefined && set.maxAge <= 0) ? null : set.value;
    return res;
  }

  get(url: string, org?: string) {
    return this.req({ url, ...(org ? { org } : {}) });
  }
  post(url: string, body?: unknown, org?: string) {
    return this.req({ method: 'POST', url, body, ...(org ? { org } : {}) });
  }
  patch(url: string, body?: unknown, org?: string) {
    return this.req({ method: 'PATCH', url, body, ...(org ? { org } : {}) });
  }
  delete(url: string, org?: string) {
    return this.req({ method: 'DELETE', url, ...(org ? { org } : {}) });
  }

  /**
   * Signs up a fresh person; returns their user and personal org. The address is then verified
   * through the real link (the mail is read from the outbox, its button posted from this
   * browser, and that mail removed so other tests' mail counts stay as they were), unless
   * `verify: false` (an account that has not proven its address).
   */
  async signup(p: { email?: string; name?: string; password?: string; verify?: boolean } = {}) {
    const email = p.email ?? uniqueEmail();
    const res = await this.post('/api/auth/signup', {
      email,
      name: p.name ?? 'Test Person',
      password: p.password ?? DEFAULT_PASSWORD,
    });
    if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
    const body = res.json() as {
      user: { id: string; email: string; name: string };
      org: { id: string; slug: string };
    };
    if (p.verify !== false) await this.verifyEmail(email);
    return { ...body, password: p.password ?? DEFAULT_PASSWORD };
  }

  /** Uses the verification link mailed to `email` from this browser, then deletes that mail. */
  private async verifyEmail(email: string): Promise<void> {
    const dir = OUTBOXES.get(this.app);
    if (!dir) throw new Error('no outbox known for this app: make it with testServer()');
    const found = await takeMail(dir, (m) => m.to === email && m.subject === VERIFY_SUBJECT);
    if (!found) throw new Error(`no verification mail to ${email}`);
    const token = tokenFrom(linkIn(found.text, `${PUBLIC_URL}/verify-email`));
    const res = await this.req({
      method: 'POST',
      url: '/verify-email',
      body: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (res.statusCode !== 200) throw new Error(`verification failed: ${res.statusCode} ${res.body}`);
  }
}

/** The outbox folder of each test server's app, for `Client.signup`. */
const OUTBOXES = new WeakMap<App, string>();
const VERIFY_SUBJECT = 'Confirm your email address for Latchkey';

/** Finds the newest outbox message matching `pick` and deletes its file; returns it, or null. */
async function takeMail(dir: string, pick: (m: Mail) => boolean): Promise<Mail | null> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .reverse();
  } catch {
    return null;
  }
  for (const f of files) {
    const path = join(dir, f);
    const m = await mailAt(path);
    if (pick(m)) {
      rmSync(path, { force: true });
      parsed.delete(path);
      return m;
    }
  }
  return null;
}

export const DEFAULT_PASSWORD = 'a sturdy passphrase 42';

let emailCounter = 0;
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${++emailCounter}@example.com`;
}

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Every message in the outbox, oldest first. */
export async function readOutbox(dir: string): Promise<Mail[]> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort();
  } catch {
    return [];
  }
  const out: Mail[] = [];
  for (const f of files) out.push(await mailAt(join(dir, f)));
  return out;
}

/**
 * Parsed messages by file, so that a test reading its outbox again and again parses each message
 * once. The outbox writes each message to a new file and never rewrites one: a path, with its
 * size and modification time, names one message.
 */
const parsed = new Map<string, { stamp: string; mail: Mail }>();

async function mailAt(path: string): Promise<Mail> {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const known = parsed.get(path);
  if (known?.stamp === stamp) return known.mail;
  const m = await simpleParser(readFileSync(path));
  const to = Array.isArray(m.to) ? m.to[0]?.text : m.to?.text;
  const mail = {
    to: to ?? '',
    subject: m.subject ?? '',
    text: m.text ?? '',
    html: typeof m.html === 'string' ? m.html : '',
  };
  parsed.set(path, { stamp, mail });
  return mail;
}

/** The newest message to `to`, or throws. */
export async function lastMailTo(dir: string, to: string): Promise<Mail> {
  const all = (await readOutbox(dir)).filter((m) => m.to === to);
  const last = all[all.length - 1];
  if (!last) throw new Error(`no mail to ${to}`);
  return last;
}

/** The first URL in a text that starts with `prefix`. */
export function linkIn(text: string, prefix: string): string {
  const m = new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s"<>]*`).exec(text);
  if (!m) throw new Error(`no link starting ${prefix} in: ${text}`);
  return m[0];
}

/** The one form of a server-rendered page: where it posts and its hidden fields (unescaped). */
export function formOf(html: string): { action: string; fields: Record<string, string> } {
  const unescape = (v: string) =>
    v.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no form in: ${html.slice(0, 500)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    fields[unescape(m[1]!)] = unescape(m[2]!);
  return { action: unescape(form[1]!), fields };
}

/**
 * Opens a mailed link as a person does: GET its page (which changes nothing), then press its one
 * button (the form POST). Answers the page when it is not 200, else the POST's answer.
 */
export async function followLink(c: Client, link: string, headers: Record<string, string> = {}) {
  const url = link.startsWith(PUBLIC_URL) ? link.slice(PUBLIC_URL.length) : link;
  const page = await c.req({ url, headers });
  if (page.statusCode !== 200) return page;
  const form = formOf(page.body);
  return c.req({
    method: 'POST',
    url: form.action,
    body: new URLSearchParams(form.fields).toString(),
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
  });
}

export function tokenFrom(link: string): string {
  const t = new URL(link).searchParams.get('token');
  if (!t) throw new Error(`no token in ${link}`);
  return t;
}
