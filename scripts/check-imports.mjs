#!/usr/bin/env node
// Guards Latchkey's layout: which package may import which, and inside packages/server/src which
// folder may import which. Run by `npm run lint`; see docs/architecture.md.
//
// Usage: node scripts/check-imports.mjs [--root <dir>] [--update] [--all]
//
//   --root <dir>  check the tree at <dir> (default: this repository) against <dir>/scripts/import-baseline.json
//   --update      rewrite the baseline to today's violations, keeping the reasons already written. It is
//                 meant for shrinking the list after a fix; it says so when the list grows instead.
//   --all         also print the violations the baseline already lists, each with the import behind it
//
// It reads every .ts, .tsx and .mjs file under packages/*/src, packages/*/test, packages/*/examples and
// examples/*, and takes each file's imports with TypeScript's `preProcessFile`: `import … from`,
// `import type`, `export … from`, side-effect imports, `import('…')` (in code and in types) and
// `require('…')`. Comments and strings are not imports. Rules:
//
//   package     No package but the server imports packages/server (by path or by package name),
//               except that another package's tests may use the server's test harness (packages/server/test).
//   contract    The wire contract (packages/contract) imports nothing outside itself: no package of ours,
//               no dependency, no Node built-in. Every package may import it.
//   test-code   No src/ file imports a test/ file.
//   migration   A migration (packages/server/src/db/migrations) imports no file of the app.
//   layer       Inside packages/server/src nothing imports a folder of a higher layer (LAYERS below).
//   fastify     Only HTTP files know Fastify: `fastify` and `@fastify/*` are imported only in http/,
//               pages/, the composition root, files named *routes*.ts or *-api.ts and the files of
//               a feature's endpoints/ and manage/ folders.
//   cycle       No import cycle between the folders of packages/server/src (a folder is the first path
//               segment under src; a file at the top of src is its own folder). Every folder-to-folder
//               import inside a strongly connected component is a violation.
//   sql         Route files hold no SQL: a server file named *routes*.ts or *-api.ts, or in a feature's
//               endpoints/ or manage/ folder, calls no query builder (`.selectFrom(`, `.insertInto(`,
//               `.updateTable(`, `.deleteFrom(`); its queries live in the feature's queries.ts or store/.
//               Not an import rule: a look at the file's calls (comments and strings do not count).
//
// Today's tree breaks some of these; scripts/import-baseline.json lists those violations, one entry
// per rule and edge (folder → folder for layer and cycle, file → file or file → package otherwise).
// The check fails (exit 1) on a violation the baseline does not list, and on a baseline entry that no
// longer occurs, so the list can only shrink. A folder of packages/server/src that LAYERS does not
// name also fails: place it in a layer first. Exit 2 is a usage error.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers of packages/server/src, bottom to top. A folder (or a file at the top of src) may
 * import its own layer and the layers below it, never a layer above.
 */
const LAYERS = [
  // Foundation: configuration, storage, cache, mail transport, small pure helpers, and the
  // protocol-neutral errors (ApiError and the problem table). No HTTP, no feature.
  ['config', 'cache', 'db', 'lib', 'mail', 'errors.ts'],
  // Who is calling: the principal, the credential tiers (session → API token → OAuth → ADMIN_TOKEN)
  // and the credential cache. It reads headers, not Fastify, so the HTTP glue can run it. Deps, the
  // bag the app is built from, sits here: it carries the credential cache.
  ['auth', 'deps.ts'],
  // Framework glue: Fastify plumbing, the request pipeline, problem details, pagination. No feature.
  ['http'],
  // Features: each owns its routes, logic and queries. They may import one another, without cycles.
  [
    'accounts',
    'admin',
    'agents',
    'audit',
    'federation',
    'joining',
    'oauth',
    'orgs',
    'pages',
    'scim',
    'sso',
    'tokens',
    'webhooks',
  ],
  // The composition root and the process: builds the app from deps, features and tiers, starts it.
  ['app.ts', 'server.ts', 'bootstrap.ts', 'start-errors.ts', 'main.ts', 'index.ts'],
];
const LAYER_NAMES = ['foundation', 'auth', 'glue', 'feature', 'root'];

/** Where in packages/server/src a file may import Fastify. */
const FASTIFY_FOLDERS = new Set(['http', 'pages', ...LAYERS[4]]);
/** HTTP files by name (`*routes*.ts`, `*-api.ts`) or by folder (a feature's `endpoints/` and `manage/`). */
const isFastifyFile = (inner) => {
  const parts = inner.split('/');
  const name = parts.pop();
  return (
    name.includes('routes') ||
    name.endsWith('-api.ts') ||
    parts.includes('endpoints') ||
    parts.includes('manage')
  );
};
const SERVER_SRC = 'packages/server/src/';
/** The Kysely calls that start a statement: a file that makes one holds SQL. */
const SQL_BUILDERS = new Set(['selectFrom', 'insertInto', 'updateTable', 'deleteFrom']);
const isFastifySpecifier = (s) => s === 'fastify' || s.startsWith('fastify/') || s.startsWith('@fastify/');

const SOURCE = /\.(ts|tsx|mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist']);

// ---------------------------------------------------------------------------------------------------
// Arguments

const args = process.argv.slice(2);
let root = fileURLToPath(new URL('..', import.meta.url));
let update = false;
let all = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--root' && args[i + 1]) root = resolve(args[++i]);
  else if (args[i] === '--update') update = true;
  else if (args[i] === '--all') all = true;
  else {
    console.error(
      `check-imports: unknown argument ${args[i]}\nusage: check-imports.mjs [--root <dir>] [--update] [--all]`,
    );
    process.exit(2);
  }
}
if (!existsSync(join(root, 'packages'))) {
  console.error(`check-imports: ${root} has no packages/ folder`);
  process.exit(2);
}
const baselineFile = join(root, 'scripts', 'import-baseline.json');

// ---------------------------------------------------------------------------------------------------
// Files and imports

const posix = (p) => p.split(sep).join('/');
const rel = (abs) => posix(relative(root, abs));

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const subdirs = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
        .sort()
    : [];

const files = [];
for (const pkg of subdirs(join(root, 'packages')))
  for (const area of ['src', 'test', 'examples']) walk(join(root, 'packages', pkg, area), files);
for (const ex of subdirs(join(root, 'examples'))) walk(join(root, 'examples', ex), files);

/** Workspace package name → its folder, from each package.json (plus `@latchkey/<folder>`). */
const packageDirs = new Map();
/** A package folder → its manifest's `exports` map. */
const packageExports = new Map();
for (const [parent, names] of [
  ['packages', subdirs(join(root, 'packages'))],
  ['examples', subdirs(join(root, 'examples'))],
]) {
  for (const name of names) {
    const dir = join(root, parent, name);
    if (parent === 'packages') packageDirs.set(`@latchkey/${name}`, dir);
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof manifest.name === 'string') packageDirs.set(manifest.name, dir);
      if (manifest.exports && typeof manifest.exports === 'object') packageExports.set(dir, manifest.exports);
    } catch {
      // no package.json: the folder name stands for it
    }
  }
}

/** The file an import names, as a path from the root; a bare package that is not ours is null. */
function resolveImport(fromAbs, specifier) {
  let base;
  if (specifier.startsWith('.') || specifier.startsWith('/')) base = resolve(dirname(fromAbs), specifier);
  else {
    const parts = specifier.split('/');
    const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    const dir = packageDirs.get(name);
    if (!dir) return null;
    const sub = specifier.slice(name.length);
    // A subpath the package exports (`@latchkey/server/testing`) is the file its manifest names.
    const target = packageExports.get(dir)?.[`.${sub}`];
    const named = typeof target === 'string' ? target : (target?.['latchkey-source'] ?? target?.types);
    base = typeof named === 'string' ? join(dir, named) : join(dir, sub);
  }
  const candidates = [base];
  if (/\.(m|c)?js$/.test(base))
    candidates.push(base.replace(/\.(m|c)?js$/, '.$1ts'), base.replace(/\.js$/, '.tsx'));
  candidates.push(`${base}.ts`, `${base}.tsx`, join(base, 'index.ts'));
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return rel(found ?? base);
}

function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}
function lineOf(starts, pos) {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** The query-builder calls in a file (`x.selectFrom(…)` and the like), found in its syntax tree. */
function queryBuilderCalls(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out = [];
  const visit = (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      SQL_BUILDERS.has(node.expression.name.text)
    ) {
      const at = source.getLineAndCharacterOfPosition(node.expression.name.getStart(source));
      out.push({ file, line: at.line + 1, builder: node.expression.name.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Where a path sits: its package (`server`, `sdk`, `examples/mcp-server`…), area and path inside it. */
function locate(path) {
  const parts = path.split('/');
  if (parts[0] === 'packages') {
    const area = ['src', 'test', 'examples'].includes(parts[2]) ? parts[2] : 'other';
    return { pkg: parts[1], area, inner: parts.slice(area === 'other' ? 2 : 3).join('/') };
  }
  if (parts[0] === 'examples') {
    const area = parts[2] === 'test' ? 'test' : 'src';
    return { pkg: `examples/${parts[1]}`, area, inner: parts.slice(2).join('/') };
  }
  return { pkg: '', area: 'other', inner: path };
}

/** The folder of a packages/server/src path: its first segment (a top-level file is its own folder). */
const folderOf = (inner) => inner.split('/')[0];
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));

/** Every import: { file, line, specifier, target } with target a root-relative path or null. */
const imports = [];
/** Every query-builder call in a server HTTP file: { file, line, builder }. */
const sqlCalls = [];
for (const abs of files) {
  let text;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') continue; // removed while we read the tree
    throw err;
  }
  const starts = lineStarts(text);
  const file = rel(abs);
  if (file.startsWith(SERVER_SRC) && isFastifyFile(file.slice(SERVER_SRC.length)))
    sqlCalls.push(...queryBuilderCalls(file, text));
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    imports.push({
      file,
      line: lineOf(starts, ref.pos),
      specifier: ref.fileName,
      target: resolveImport(abs, ref.fileName),
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Rules

/** key → { rule, from, to, sites: [{ file, line, shown }], note } */
const violations = new Map();
const unknownFolders = new Map();

function report(rule, from, to, site, note) {
  const key = `${rule}|${from}|${to}`;
  let v = violations.get(key);
  if (!v) violations.set(key, (v = { rule, from, to, sites: [], note }));
  v.sites.push(site);
}

/** The one way other packages' tests reach the server: its harness, as a package export. */
const SERVER_TESTING = '@latchkey/server/testing';
/** How an import's target is printed: inside server src from there, else from the root. */
const shown = (target) => (target.startsWith(SERVER_SRC) ? target.slice(SERVER_SRC.length) : target);

for (const c of sqlCalls)
  report(
    'sql',
    c.file,
    c.builder,
    { file: c.file, line: c.line, shown: c.builder },
    "route files hold no SQL: move the query to the feature's queries.ts or store/ and call it",
  );

/** The folder-to-folder graph of packages/server/src: from → to → sites. */
const graph = new Map();

for (const imp of imports) {
  const from = locate(imp.file);
  const inServerSrc = imp.file.startsWith(SERVER_SRC);
  const site = {
    file: imp.file,
    line: imp.line,
    shown: !imp.target ? imp.specifier : inServerSrc ? shown(imp.target) : imp.target,
  };

  if (from.pkg === 'server' && from.area === 'src' && isFastifySpecifier(imp.specifier)) {
    const folder = folderOf(from.inner);
    if (!FASTIFY_FOLDERS.has(folder) && !isFastifyFile(from.inner))
      report(
        'fastify',
        imp.file,
        'fastify',
        site,
        'only HTTP files (http/, pages/, *routes*.ts, endpoints/, manage/) know Fastify',
      );
  }
  if (from.pkg === 'contract') {
    if (!imp.target || locate(imp.target).pkg !== 'contract')
      report(
        'contract',
        imp.file,
        imp.target ?? imp.specifier,
        site,
        'the wire contract imports nothing: no package of ours, no dependency',
      );
    continue;
  }
  if (!imp.target) continue;
  const to = locate(imp.target);

  if (from.pkg !== 'server' && to.pkg === 'server') {
    if (!(from.area === 'test' && imp.specifier === SERVER_TESTING))
      report(
        'package',
        imp.file,
        imp.target,
        site,
        from.area === 'test'
          ? `${from.pkg} tests reach the server through ${SERVER_TESTING} only`
          : `${from.pkg} never imports the server`,
      );
    continue;
  }
  if (from.area === 'src' && to.area === 'test') {
    report('test-code', imp.file, imp.target, site, 'source never imports test code');
    continue;
  }
  if (from.pkg !== 'server' || from.area !== 'src' || to.pkg !== 'server' || to.area !== 'src') continue;

  if (from.inner.startsWith('db/migrations/') && !to.inner.startsWith('db/migrations/'))
    report('migration', imp.file, imp.target, site, 'a migration is frozen in time: it imports no app code');

  const a = folderOf(from.inner);
  const b = folderOf(to.inner);
  if (a === b) continue;
  for (const f of [a, b])
    if (!layerOf.has(f)) unknownFolders.set(f, unknownFolders.get(f) ?? `${SERVER_SRC}${f}`);
  if (layerOf.has(a) && layerOf.has(b) && layerOf.get(b) > layerOf.get(a))
    report(
      'layer',
      a,
      b,
      site,
      `${LAYER_NAMES[layerOf.get(a)]} imports ${LAYER_NAMES[layerOf.get(b)]}: nothing imports a higher layer`,
    );
  if (!graph.has(a)) graph.set(a, new Map());
  const edges = graph.get(a);
  if (!edges.has(b)) edges.set(b, []);
  edges.get(b).push(site);
}

// Folders that exist but import nothing and are imported by nothing still need a layer.
for (const name of existsSync(join(root, SERVER_SRC)) ? readdirSync(join(root, SERVER_SRC)) : []) {
  const p = join(root, SERVER_SRC, name);
  const isFolder = statSync(p).isDirectory();
  if (name.startsWith('.') || (!isFolder && (!SOURCE.test(name) || name.endsWith('.d.ts')))) continue;
  if (!layerOf.has(name)) unknownFolders.set(name, `${SERVER_SRC}${name}`);
}

// Cycles: Tarjan's strongly connected components over the folder graph.
const components = [];
{
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((m) => [...m.keys()])])].sort();
  const strongConnect = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
      if (!idx.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strongConnect(v);
}
const componentOf = new Map(components.flatMap((c) => c.map((f) => [f, c])));

/** The shortest way back from `from` to `to` inside one component, as a list of folders. */
function pathBack(from, to, members) {
  const prev = new Map([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift();
    if (v === to) break;
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort())
      if (members.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
  }
  const path = [];
  for (let v = to; v !== null; v = prev.get(v)) path.unshift(v);
  return path;
}

for (const [a, edges] of graph) {
  const component = componentOf.get(a);
  if (!component) continue;
  const members = new Set(component);
  for (const [b, sites] of edges) {
    if (!members.has(b)) continue;
    const loop = [a, ...pathBack(b, a, members)].join(' → ');
    for (const site of sites) report('cycle', a, b, site, `closes ${loop}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Baseline

const keyOf = (e) => `${e.rule}|${e.from}|${e.to}`;
let baseline = [];
if (existsSync(baselineFile)) {
  try {
    const parsed = JSON.parse(readFileSync(baselineFile, 'utf8'));
    baseline = Array.isArray(parsed.violations) ? parsed.violations : [];
  } catch (err) {
    console.error(`check-imports: ${rel(baselineFile)} is not valid JSON: ${err.message}`);
    process.exit(2);
  }
}
const baselineByKey = new Map(baseline.map((e) => [keyOf(e), e]));

const ordered = [...violations.values()].sort(
  (x, y) => x.rule.localeCompare(y.rule) || x.from.localeCompare(y.from) || x.to.localeCompare(y.to),
);
/** The edge a violation is about, in the words of its rule. */
function arrow(v) {
  if (v.rule === 'layer' || v.rule === 'cycle') return `${v.from} → ${v.to}`;
  if (v.rule === 'fastify') return `${folderOf(shown(v.from))} → fastify`;
  if (v.rule === 'migration') return 'migration → app';
  if (v.rule === 'contract') return `contract → ${locate(v.to).pkg || v.to}`;
  const from = locate(v.from);
  const to = locate(v.to);
  const where = (at) => (at.area === 'other' ? at.pkg : `${at.pkg} ${at.area}`);
  return `${where(from)} → ${where(to)}`;
}

function describe(v) {
  const [first, ...more] = v.sites;
  if (v.rule === 'sql') {
    const also = more.length > 0 ? ` (and ${more.length} more)` : '';
    return `sql: ${first.file}:${first.line} calls ${first.shown}()${also}: ${v.note}`;
  }
  const also = more.length > 0 ? ` (and ${more.length} more import${more.length > 1 ? 's' : ''})` : '';
  return `${v.rule}: ${first.file}:${first.line} imports ${first.shown} (${arrow(v)})${also}: ${v.note}`;
}

if (update) {
  const next = ordered.map((v) => ({
    rule: v.rule,
    from: v.from,
    to: v.to,
    reason: baselineByKey.get(keyOf(v))?.reason ?? '',
  }));
  const added = next.filter((e) => !baselineByKey.has(keyOf(e)));
  const removed = baseline.filter((e) => !violations.has(keyOf(e)));
  writeFileSync(baselineFile, formatBaseline(next));
  console.log(
    `check-imports: wrote ${rel(baselineFile)}: ${next.length} entries (${removed.length} removed, ${added.length} added)`,
  );
  for (const e of added) console.log(`  added ${describe(violations.get(keyOf(e)))}`);
  if (added.length > 0)
    console.log('  The baseline grew: it is meant to shrink. Fix the imports above instead if you can.');
  if (unknownFolders.size > 0) reportUnknown();
  process.exit(unknownFolders.size > 0 ? 1 : 0);
}

let failures = 0;
for (const v of ordered) {
  if (baselineByKey.has(keyOf(v))) {
    if (all) console.log(`  (baseline) ${describe(v)}`);
    continue;
  }
  failures++;
  console.log(describe(v));
}
for (const e of baseline) {
  if (violations.has(keyOf(e))) continue;
  failures++;
  console.log(
    `stale baseline entry: ${e.rule} ${e.from} → ${e.to} no longer occurs: remove it from the baseline ` +
      '(node scripts/check-imports.mjs --update)',
  );
}
if (unknownFolders.size > 0) {
  failures += unknownFolders.size;
  reportUnknown();
}
if (components.length > 0 && (all || failures > 0))
  for (const c of components) console.log(`  folders in one import cycle: ${c.join(', ')}`);

const baselined = ordered.filter((v) => baselineByKey.has(keyOf(v))).length;
if (failures > 0) {
  console.log(
    `check-imports: ${failures} problem${failures > 1 ? 's' : ''} in ${files.length} files ` +
      `(${baselined} known violations are listed in scripts/import-baseline.json). See docs/architecture.md.`,
  );
  process.exit(1);
}
console.log(
  `check-imports: ${files.length} files, ${imports.length} imports, ${baselined} known violations left.`,
);

function reportUnknown() {
  for (const [name, path] of unknownFolders)
    console.log(`unknown folder: ${path} has no layer: add '${name}' to LAYERS in scripts/check-imports.mjs`);
}

/** The baseline as Prettier prints it (one entry per line when it fits in 110 columns). */
function formatBaseline(entries) {
  const lines = entries.map((e) => {
    const fields = ['rule', 'from', 'to', 'reason'].map(
      (k) => `${JSON.stringify(k)}: ${JSON.stringify(e[k])}`,
    );
    const flat = `    { ${fields.join(', ')} }`;
    return flat.length <= 110 ? flat : `    {\n${fields.map((f) => `      ${f}`).join(',\n')}\n    }`;
  });
  const comment =
    'Known violations of the import rules (scripts/check-imports.mjs). The list only shrinks: fix an import, then remove its entry.';
  const list = lines.length > 0 ? `[\n${lines.join(',\n')}\n  ]` : '[]';
  return `{\n  "comment": ${JSON.stringify(comment)},\n  "violations": ${list}\n}\n`;
}
