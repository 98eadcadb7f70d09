#!/usr/bin/env node
// The `latchkey` command: runs the CLI compiled into dist/ (`npm run build` at the repository root;
// a published package ships it built).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('latchkey: the CLI is not built yet: run `npm run build` at the repository root\n');
  process.exit(4);
}
await import(main.href);
