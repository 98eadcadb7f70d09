/**
 * Runs `task` every `ms` on an unref'd timer (it never holds the process open), one run at a time:
 * a tick that finds the last run still going is skipped. A run's failure goes to `failed`. Returns
 * the function that stops it. The server's periodic jobs (sweeps, re-checks, key rotation,
 * database maintenance) all run this way.
 */
export function every(ms: number, task: () => Promise<unknown>, failed: (err: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch(failed)
      .finally(() => {
        running = false;
      });
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
