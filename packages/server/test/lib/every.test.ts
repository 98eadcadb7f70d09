// test-backend: embedded — no storage: the periodic runner the server's jobs share
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { every } from '../../src/lib/every.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `done()` holds, for at most ten seconds. */
async function until(done: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !done() && Date.now() - t0 < 10_000;) await sleep(5);
}

describe('every: a periodic job, one run at a time', () => {
  it('skips the ticks that find the last run still going, and stops when told', async () => {
    let started = 0;
    let overlapping = 0;
    let running = false;
    const stop = every(
      5,
      async () => {
        started++;
        if (running) overlapping++;
        running = true;
        await sleep(40);
        running = false;
      },
      () => assert.fail('no run fails'),
    );
    // Until a second run has started (a loaded machine may take a while to fire the ticks).
    const t0 = performance.now();
    await until(() => started >= 2);
    stop();
    const elapsed = performance.now() - t0;
    // Ticks every 5 ms, runs of 40 ms: never two at once, so no more than fit one after another.
    assert.ok(started >= 2 && started <= Math.floor(elapsed / 40) + 1, `${started} runs in ${elapsed} ms`);
    assert.equal(overlapping, 0);
    const after = started;
    await sleep(60);
    assert.equal(started, after, 'no run starts after the stop');
  });

  it('reports a failed run and goes on with the next', async () => {
    const failures: unknown[] = [];
    let runs = 0;
    const stop = every(
      5,
      async () => {
        runs++;
        if (runs === 1) throw new Error('first run fails');
      },
      (err) => failures.push(err),
    );
    await until(() => runs >= 2);
    stop();
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]), /first run fails/);
    assert.ok(runs >= 2, `${runs} runs`);
  });

  it('never holds the process open', async () => {
    // The timer is unref'd: a child process whose only work is a job exits at once.
    const { spawnSync } = await import('node:child_process');
    const code = `import('${new URL('../../src/lib/every.ts', import.meta.url).pathname}').then(({ every }) => every(1000, async () => {}, () => {}))`;
    const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
      timeout: 20_000,
    });
    assert.equal(r.status, 0, String(r.stderr));
  });
});
