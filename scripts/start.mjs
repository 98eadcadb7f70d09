#!/usr/bin/env node
// `npm start`: builds Latchkey (saying what it is doing, and how long it took), then starts the
// server in this terminal. Ctrl-C stops it.
import { spawn, spawnSync } from 'node:child_process';
import { SERVER_NODE_ARGS } from './server-node-args.mjs';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

process.stdout.write(
  'Building Latchkey: server, SDK, CLI (TypeScript), the server bundle, then the dashboard (Vite)…\n',
);
const started = performance.now();
const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  process.stderr.write('latchkey: the build failed (see above); nothing was started.\n');
  process.exit(build.status ?? 1);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(`Built in ${seconds} s. Starting the server…\n`);

const server = spawn(
  process.execPath,
  [...SERVER_NODE_ARGS, 'packages/server/dist/bundle/main.js', 'start', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
