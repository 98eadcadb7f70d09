import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../process/proc.js';

/**
 * A PostgreSQL and a Redis of the test's own, on free loopback ports, that the test may stop and
 * start (the shared ones on 5432 and 6379 are never touched). PostgreSQL refuses to run as root:
 * as root, its commands run as the `postgres` user.
 */

const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  const version = existsSync(base) ? readdirSync(base).sort().reverse()[0] : undefined;
  return version ? join(base, version, 'bin') : null;
})();

const asRoot = process.getuid?.() === 0;

function pgCommand(cmd: string, args: string[]) {
  const bin = join(PG_BIN!, cmd);
  return asRoot ? { file: 'runuser', args: ['-u', 'postgres', '--', bin, ...args] } : { file: bin, args };
}

function runPg(cmd: string, args: string[]): void {
  const c = pgCommand(cmd, args);
  const r = spawnSync(c.file, c.args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** Why this machine cannot run the fault tests, or null when it can. */
export function faultInfraMissing(): string | null {
  if (!PG_BIN || !existsSync(join(PG_BIN, 'initdb'))) return 'needs PostgreSQL server binaries';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'needs redis-server';
  return null;
}

export interface OwnPostgres {
  readonly url: string;
  readonly port: number;
  /** Stops the server at once (`immediate`: like a crash, connections dropped). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pg-'));
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gr = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pw.stdout.trim()), Number(gr.stdout.trim()));
  }
  const data = join(dir, 'data');
  runPg('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ]);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // Commits stay synchronous: a stop is a crash of the server process (never of the machine), so
  // without fsync every acknowledged commit is still in the OS's cache and survives it, as on a
  // real server; with asynchronous commit the last writes before a stop were lost.
  const start = async () => {
    runPg('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`,
      'start',
    ]);
    for (let i = 0; i < 100; i++) {
      const c = new pg.Client({ connectionString: url });
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error('the test PostgreSQL did not accept connections');
  };
  const stop = async () => runPg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  await start();
  return {
    url,
    port,
    start,
    stop,
    async destroy() {
      try {
        await stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnRedis {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        await sleep(50);
      }
    }
    throw new Error('the test Redis did not start');
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  process.on('exit', () => (proc as ChildProcess | null)?.kill('SIGKILL'));
  return { url, start, stop, destroy: stop };
}
