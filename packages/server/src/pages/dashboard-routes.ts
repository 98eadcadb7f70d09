import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { Deps } from '../deps.js';
import type { App } from '../http/types.js';
import { PAGE_CSP, renderMessage } from '../http/html.js';

/** The dashboard's policy: its own scripts, styles and API calls only; never framed. */
export const DASHBOARD_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Hashed build output (`assets/index-3f9a….js`) never changes under its name. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Whether the dashboard has been built into `dir` (then `/` leads to it). */
export function dashboardBuilt(dir: string): boolean {
  return existsSync(join(dir, 'index.html'));
}

/**
 * The path below `/app/` as a list of safe segments, or null. Refused: dot segments, empty
 * segments, backslashes, NUL and other control characters, and anything that fails to decode.
 */
function segments(rest: string): string[] | null {
  const out: string[] = [];
  for (const raw of rest.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || /[\\/\u0000-\u001f\u007f]/.test(seg)) return null;
    out.push(seg);
  }
  return out;
}

/** A regular file inside `root` (after symlinks are resolved), or null. */
async function fileInside(root: string, rel: string[]): Promise<string | null> {
  try {
    const real = await realpath(join(root, ...rel));
    if (!real.startsWith(root + sep)) return null;
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null;
  }
}

/**
 * `/app/*`: the built dashboard from `config.dashboardDir`. Files are served from inside that
 * folder only; any other path under `/app/` is a client-side route and gets `index.html`
 * (never cached, so a new build is picked up at once). Hashed assets are cached for a year.
 */
export function dashboardRoutes(app: App, deps: Deps): void {
  const dir = deps.config.dashboardDir;
  let root: string | null = null;
  const rootDir = async () => {
    root ??= await realpath(dir).catch(() => null);
    return root;
  };

  app.addHook('onSend', async (_req, reply) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DASHBOARD_CSP);
  });

  app.get('/app', { config: { auth: 'none' }, schema: { hide: true } }, async (_req, reply) =>
    reply.redirect('/app/', 301),
  );

  app.get('/app/*', { config: { auth: 'none' }, schema: { hide: true } }, async (req, reply) => {
    const base = await rootDir();
    if (!base || !dashboardBuilt(base)) {
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .header('content-security-policy', PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(
          renderMessage(
            'Dashboard not built',
            'The dashboard has not been built. Run "npm run build", then reload this page.',
          ),
        );
    }
    const rel = segments((req.params as { '*': string })['*'] ?? '');
    if (rel === null) return reply.callNotFound();
    const file = rel.length > 0 ? await fileInside(base, rel) : null;
    const isIndex = file === join(base, 'index.html');
    if (file && !isIndex) {
      const hashed = rel[0] === 'assets';
      return reply
        .header('cache-control', hashed ? IMMUTABLE : 'no-cache')
        .type(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
        .send(await readFile(file));
    }
    // A missing build file is a 404, not the app: a stale page asking for an old chunk must fail loudly.
    if (!isIndex && (rel[0] === 'assets' || (rel.length > 0 && extname(rel[rel.length - 1]!) !== ''))) {
      return reply.callNotFound();
    }
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(await readFile(join(base, 'index.html')));
  });
}
