#!/usr/bin/env node
// Runs every package's tests: on the embedded backend (PGlite + in-process cache), and on
// PostgreSQL + Redis when DATABASE_URL and REDIS_URL are set.
//
// Usage: npm test [-- [--verbose] [--jobs N] <file filter>...]
//
// Every (file, backend) pair is one process, and all pairs share one pool: the two backends run
// side by side, the files that took longest last time start first, and no backend waits for the
// other's slowest file. Each file's output is printed in one piece when it finishes (in full when
// it fails or with --verbose, else one line), so concurrent files never interleave.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const jobsAt = args.indexOf('--jobs');
const jobs = Math.max(
  1,
  Number(jobsAt >= 0 ? args[jobsAt + 1] : process.env.TEST_JOBS) || availableParallelism() + 1,
);
const filters = args.filter((a, i) => !a.startsWith('--') && !(jobsAt >= 0 && i === jobsAt + 1));
/** A file that runs longer than this is stopped and counts as failed. */
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS) || 8 * 60_000;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = ['packages', 'examples']
  .map((d) => join(root, d))
  .filter(existsSync)
  .flatMap((d) => walk(d))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// A migrated PGlite snapshot, rebuilt whenever a migration changes.
const migrationsDir = join(root, 'packages/server/src/db/migrations');
const hash = createHash('sha256');
for (const f of readdirSync(migrationsDir).sort())
  hash.update(f).update(readFileSync(join(migrationsDir, f)));
const cacheDir = join(root, '.test-cache');
mkdirSync(cacheDir, { recursive: true });
const template = join(cacheDir, `pglite-${hash.digest('hex').slice(0, 16)}.bin`);
if (!existsSync(template)) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'packages/server/test/helpers/make-template.ts', template],
    { cwd: root, stdio: 'inherit' },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const backends = ['embedded'];
if (process.env.DATABASE_URL && process.env.REDIS_URL) backends.push('external');
else console.log('DATABASE_URL / REDIS_URL not set: running the embedded backend only.');

// How long each pair took last time, to start the longest first: this checkout's last run, else
// the durations recorded in the repository (a clean clone, as in CI), else alphabetical order.
const timingsFile = join(cacheDir, 'timings.json');
let timings = {};
for (const f of [timingsFile, join(root, 'scripts/test-timings.json')]) {
  try {
    timings = JSON.parse(readFileSync(f, 'utf8'));
    break;
  } catch {
    // not there yet
  }
}
const key = (file, backend) => `${backend} ${file}`;

/**
 * A file may name the one backend it runs on, in a line of its opening comment:
 *   // test-backend: embedded — for a file whose subject is not storage (a client, the browser,
 *      the CLI, a protocol conformance suite) or that starts its own PostgreSQL and Redis;
 *   // test-backend: external — for a file that needs a shared PostgreSQL and Redis (two nodes).
 * Every other file runs on every backend.
 */
function backendOf(file) {
  const head = readFileSync(join(root, file), 'utf8').slice(0, 4000);
  const m = head.match(/^\/\/ test-backend: (embedded|external)\b/m);
  return m ? m[1] : null;
}
const pinned = new Map(files.map((f) => [f, backendOf(f)]));
const skippedFiles = files.filter((f) => pinned.get(f) && !backends.includes(pinned.get(f)));
const queue = backends
  .flatMap((backend) => files.map((file) => ({ file, backend })))
  .filter(({ file, backend }) => (pinned.get(file) ?? backend) === backend)
  .sort((a, b) => (timings[key(b.file, b.backend)] ?? 60_000) - (timings[key(a.file, a.backend)] ?? 60_000));

console.log(
  `running ${files.length} test files on ${backends.join(' and ')} (${queue.length} runs, ${jobs} at a time)`,
);
for (const f of skippedFiles) console.log(`skipped: ${f} (needs the ${pinned.get(f)} backend)`);
console.log('');

/** Reads the spec reporter's closing summary ("ℹ pass 12"). */
function count(output, label) {
  const m = output.match(new RegExp(`^ℹ ${label} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

/**
 * The lines of a spec report that say why a file failed: each failing test's name and the first
 * lines of its error, at most 60 lines in all.
 */
function failureExcerpt(output) {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => /^✖ failing tests:/.test(l));
  const picked = (
    start >= 0 ? lines.slice(start + 1) : lines.filter((l) => /✖|Error|error:|not ok/.test(l))
  ).filter((l) => l.trim() !== '' && !/^\s+at /.test(l));
  return picked.slice(0, 60).join('\n') || output.trimEnd().split('\n').slice(-20).join('\n');
}

/** TypeScript runs through the repository's own module hooks (ts-hooks.mjs), cheaper to start than tsx. */
const loader = join(root, 'scripts/ts-register.mjs');

function run({ file, backend }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', loader, '--test', '--test-reporter=spec', file], {
      cwd: root,
      env: {
        ...process.env,
        LATCHKEY_TEST_BACKEND: backend,
        LATCHKEY_TEST_TEMPLATE: template,
        LOG_LEVEL: 'silent',
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.add(child.pid);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child.pid);
      const ms = Date.now() - started;
      const ok = code === 0 && !timedOut;
      resolve({
        file,
        backend,
        ok,
        ms,
        output,
        timedOut,
        pass: count(output, 'pass'),
        fail: count(output, 'fail'),
        skipped: count(output, 'skipped'),
      });
    });
  });
}

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const pid of children) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.exit(130);
  });
}

const started = Date.now();
const results = [];
let next = 0;
async function worker() {
  while (next < queue.length) {
    const item = queue[next++];
    const r = await run(item);
    results.push(r);
    const tag = `${r.ok ? 'ok  ' : 'FAIL'} ${r.backend.padEnd(8)} ${r.file}`;
    const detail = `${r.pass} passed${r.fail ? `, ${r.fail} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}, ${(r.ms / 1000).toFixed(1)} s${r.timedOut ? ` — stopped after ${FILE_TIMEOUT_MS / 1000} s` : ''}`;
    if (!r.ok || verbose) {
      console.log(`\n──── ${tag} (${detail})\n${r.output.trimEnd()}\n──── end of ${r.file} (${r.backend})\n`);
    } else {
      console.log(`${tag}  (${detail})`);
    }
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));

const merged = { ...timings };
for (const r of results) merged[key(r.file, r.backend)] = r.ms;
writeFileSync(timingsFile, JSON.stringify(merged, null, 1));

const failed = results.filter((r) => !r.ok);
const total = (f) => results.filter(f).reduce((n, r) => n + r.pass, 0);
console.log(`\n=== ${Math.round((Date.now() - started) / 1000)} s in all ===`);
for (const backend of backends) {
  const mine = results.filter((r) => r.backend === backend);
  const bad = mine.filter((r) => !r.ok);
  console.log(
    `=== ${backend} (${backend === 'embedded' ? 'PGlite + memory' : 'PostgreSQL + Redis'}): ${bad.length === 0 ? 'passed' : 'FAILED'} — ${mine.length} files, ${total((r) => r.backend === backend)} tests ===`,
  );
}
if (failed.length > 0) {
  console.log('\nfailed:');
  for (const r of failed) console.log(`  ${r.backend.padEnd(8)} ${r.file}`);
  // The failures again, briefly, at the very end, where a log that keeps only its tail still shows why.
  for (const r of failed) {
    console.log(
      `\n── why ${r.backend} ${r.file} failed${r.timedOut ? ` (stopped after ${FILE_TIMEOUT_MS / 1000} s)` : ''}:`,
    );
    console.log(failureExcerpt(r.output));
  }
}
process.exit(failed.length > 0 ? 1 : 0);
