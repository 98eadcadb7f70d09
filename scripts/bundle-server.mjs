#!/usr/bin/env node
// Bundles the built server (packages/server/dist, from `tsc -b`) into packages/server/dist/bundle:
// main.js (the program `npm start` runs) and pglite-worker.js (the embedded database's thread),
// with the code they share in chunks and each lazily loaded module in its own chunk.
//
// Why: a start loaded some 1 200 files (Kysely alone is 260), and resolving, opening and
// compiling them one by one kept the HTTP thread busy for about a second of a restart. One file
// per chunk halves that (bench/memory-startup.mjs).
//
// Left outside the bundle, loaded from node_modules as before: packages that find their own files
// at run time (PGlite's WASM and data, the Argon2 and PostgreSQL native bindings; pino, ioredis and
// @fastify/swagger read paths from `__dirname`), and the ones loaded only when a feature is first used, whose place in
// the bundle would save nothing at start.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = `${root}packages/server/dist`;

const EXTERNAL = [
  '@electric-sql/pglite',
  '@node-rs/argon2',
  'pg',
  'pg-native',
  'pino',
  'ioredis',
  'nodemailer',
  '@node-saml/node-saml',
  '@xmldom/xmldom',
  '@simplewebauthn/server',
  '@fastify/swagger',
];

// Chunk names carry a hash of their content: start from an empty folder, or old ones pile up.
rmSync(`${dist}/bundle`, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: `${dist}/main.js`, 'pglite-worker': `${dist}/db/pglite-worker.js` },
  absWorkingDir: root,
  outdir: `${dist}/bundle`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS dependencies inside an ES module bundle call `require` for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  // No comments or indentation: a chunk holding a single non-Latin-1 character in a comment is
  // kept by V8 as a two-byte string, so the 2.8 MB of source it keeps for lazy compilation took
  // 7 MB of the HTTP thread's heap (2.3 MB now). Function names stay, and a linked source map leads
  // back to the TypeScript (`node --enable-source-maps`). Licences go to a .LEGAL.txt beside each chunk.
  minifyWhitespace: true,
  legalComments: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
// A bundled module that looks for files beside itself would look in the bundle's folder instead.
const text = Object.keys(result.metafile.outputs)
  .filter((f) => f.endsWith('.js'))
  .map((f) => readFileSync(`${root}${f}`, 'utf8'));
const strays = text.filter((t) => /\b__dirname\b|\b__filename\b/.test(t)).length;
if (strays > 0) {
  console.error(
    `bundle-server: ${strays} bundled chunk(s) use __dirname or __filename; leave their package outside`,
  );
  process.exit(1);
}
