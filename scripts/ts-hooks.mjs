// Module hooks that run the repository's TypeScript as ESM: `./x.js` written in a .ts file resolves
// to `./x.ts` when only that exists, and .ts files are compiled by esbuild (types stripped, nothing
// checked: `npm run lint` type-checks), with an inline source map for readable stack traces. Each
// compiled file is kept under .test-cache/ts/, keyed by its content, so a file is compiled once
// across all test processes.
//
// The test runner uses this instead of a general-purpose loader: it does only what this repository
// needs, and does nothing at all for JavaScript, which keeps the per-process start-up cheap.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const cacheDir = fileURLToPath(new URL('../.test-cache/ts/', import.meta.url));
mkdirSync(cacheDir, { recursive: true });
const TSCONFIG = { compilerOptions: { verbatimModuleSyntax: true, target: 'ES2022' } };

/** The `exports` condition under which a workspace package names its TypeScript source. */
const SOURCE_CONDITION = 'latchkey-source';

const inRepo = (url) => url.startsWith('file:') && !url.includes('/node_modules/');

export async function resolve(specifier, context, next) {
  if (
    specifier.endsWith('.js') &&
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    context.parentURL?.endsWith('.ts') &&
    inRepo(context.parentURL)
  ) {
    const url = new URL(specifier, context.parentURL);
    const ts = new URL(url.href.slice(0, -3) + '.ts');
    if (!existsSync(url) && existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  // A workspace package that exports its TypeScript under this condition (`@latchkey/contract`) runs
  // from its source here, so nothing has to be built first; built code resolves to its dist/.
  return next(specifier, { ...context, conditions: [...context.conditions, SOURCE_CONDITION] });
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts') || !url.startsWith('file:')) return next(url, context);
  const path = fileURLToPath(url);
  const source = readFileSync(path, 'utf8');
  const key = createHash('sha256').update(path).update('\0').update(source).digest('hex').slice(0, 32);
  const cached = `${cacheDir}${key}.js`;
  let code;
  try {
    code = readFileSync(cached, 'utf8');
  } catch {
    code = transformSync(source, {
      loader: 'ts',
      format: 'esm',
      sourcemap: 'inline',
      sourcefile: path,
      tsconfigRaw: TSCONFIG,
    }).code;
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, cached);
  }
  return { format: 'module', source: code, shortCircuit: true };
}
