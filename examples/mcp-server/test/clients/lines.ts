import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A client application in another process, driven over JSON lines (see `python_client.py`):
 * commands on stdin answered by `{id, ok, value | error}`, and events (`ready`, `authorize`) that
 * the test waits for in order. stderr is kept for failure messages.
 */
export class LineDriven {
  readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private readonly answers = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: { event: string; [k: string]: unknown }[] = [];
  private readonly waiters: { event: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  stderr = '';
  private exited: string | null = null;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      let msg: { id?: number; ok?: boolean; value?: unknown; error?: string; event?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.stderr += `\n(stdout) ${line}`;
        return;
      }
      if (msg.event) {
        const at = this.waiters.findIndex((w) => w.event === msg.event);
        if (at >= 0) this.waiters.splice(at, 1)[0]!.resolve(msg as Record<string, unknown>);
        else this.events.push(msg as { event: string });
        return;
      }
      const pending = this.answers.get(msg.id!);
      if (!pending) return;
      this.answers.delete(msg.id!);
      if (msg.ok) pending.resolve(msg.value);
      else pending.reject(new Error(msg.error));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `exited (${code ?? signal})`;
      const err = new Error(`the client ${this.exited}: ${this.stderr.slice(-3000)}`);
      for (const p of this.answers.values()) p.reject(err);
      this.answers.clear();
    });
  }

  /** Sends a command and resolves with its value (rejects with the client's error). */
  send<T = unknown>(cmd: string, fields: Record<string, unknown> = {}): Promise<T> {
    if (this.exited)
      return Promise.reject(new Error(`the client ${this.exited}: ${this.stderr.slice(-3000)}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.answers.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ id, cmd, ...fields })}\n`);
    });
  }

  /** The next `event` the client emits (or one it already emitted and nobody took). */
  next(event: string, ms = 20_000): Promise<Record<string, unknown>> {
    const at = this.events.findIndex((e) => e.event === event);
    if (at >= 0) return Promise.resolve(this.events.splice(at, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { event, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        reject(new Error(`no ${event} event within ${ms} ms; stderr: ${this.stderr.slice(-3000)}`));
      }, ms).unref();
    });
  }

  /** Events emitted that nobody waited for. */
  unclaimed(event: string) {
    return this.events.filter((e) => e.event === event);
  }

  async close() {
    if (!this.exited) {
      await Promise.race([
        this.send('close').catch(() => undefined),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
      this.child.kill();
    }
  }
}
