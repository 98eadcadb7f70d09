import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the real, built server as `npm start` does (`node packages/server/dist/bundle/main.js`) as a
 * child process. The build is made here when the bundle is missing or older than the sources
 * (`npx tsc -b packages/server`, then `scripts/bundle-server.mjs`, serialised across test files by
 * a lock directory), so `npm test` needs no separate build step.
 */

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SERVER_DIR = join(ROOT, 'packages/server');
export const MAIN = join(SERVER_DIR, 'dist/bundle/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : name.endsWith('.ts') ? st.mtimeMs : 0);
  }
  return newest;
}

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds and bundles the server unless the bundle is at least as new as every source file. */
export function ensureBuilt(): void {
  const fresh = () => existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestMtime(join(SERVER_DIR, 'src'));
  if (fresh()) return;
  const lock = join(tmpdir(), `latchkey-build-${Buffer.from(ROOT).toString('base64url').slice(-24)}.lock`);
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 180_000) rmdirSync(lock); // a stale lock from a killed run
      sleepSync(200);
    }
  }
  try {
    if (fresh()) return;
    // Type errors elsewhere in the tree still emit JavaScript (tsc -b emits on error since 5.6).
    const r = spawnSync('npx', ['tsc', '-b', 'packages/server'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) process.stderr.write(`# tsc -b reported errors; testing the JavaScript it emitted\n`);
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/bundle-server.mjs')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (b.status !== 0 || !fresh())
      throw new Error(`the server build failed:\n${r.stdout}\n${r.stderr}\n${b.stdout}\n${b.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

/** A port nothing listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `latchkey-${tag}-`));
}

export interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  waitReady(timeoutMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Kills every child this file started that is still running (for `after`). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}

export interface SpawnOptions {
  /** `start` (default) or `migrate`. */
  command?: string;
  env?: Record<string, string>;
  cwd: string;
  port?: number;
}

/**
 * Starts `latchkey-server <command>` with a clean environment: PATH and HOME, plus `env`. The
 * test runner's own variables (DATABASE_URL, LOG_LEVEL=silent, …) never leak in.
 */
export async function spawnServer(opts: SpawnOptions): Promise<Child> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? opts.cwd,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    LOG_LEVEL: 'info',
    // JSON lines, as in production: tests read fields from them.
    LOG_FORMAT: 'json',
    ...opts.env,
  };
  const proc = spawn(process.execPath, [MAIN, opts.command ?? 'start'], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', (d) => {
    out += d;
    poke();
  });
  proc.stderr!.on('data', (d) => {
    err += d;
    poke();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      // Let the pipes drain before anyone reads the output.
      setImmediate(() => {
        poke();
        resolve({ code, signal });
      });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const waitForOutput = (re: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) {
          done();
          resolve(m);
        } else if (hasExited) {
          done();
          reject(new Error(`the server exited before printing ${re}\nstdout:\n${out}\nstderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${re} after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const waitReady = async (timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (hasExited)
        throw new Error(`the server exited before it was ready\nstdout:\n${out}\nstderr:\n${err}`);
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > until)
        throw new Error(`not ready after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  return { proc, port, url, stdout: () => out, stderr: () => err, exited, waitForOutput, waitReady };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A client address for X-Forwarded-For (children run with TRUST_PROXY=true), so per-IP limits kept in a shared Redis never carry over between runs. */
export function randomIp(): string {
  const b = () => Math.floor(Math.random() * 254) + 1;
  return `10.${b()}.${b()}.${b()}`;
}
