// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '@latchkey/server/testing';

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** A stand-in build: what the server does with the files does not depend on what is in them. */
function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-dist-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Latchkey</title><div id="root"></div>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("app")');
  writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(dir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'robots.txt'), 'User-agent: *');
  return dir;
}

describe('serving the built dashboard at /app/', () => {
  let t: TestServer;
  let dist: string;
  let outside: string;
  before(async () => {
    dist = fakeBuild();
    outside = mkdtempSync(join(tmpdir(), 'latchkey-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'not for the web');
    symlinkSync(join(outside, 'secret.txt'), join(dist, 'assets', 'linked.txt'));
    t = await testServer({ env: { DASHBOARD_DIR: dist } });
  });
  after(async () => {
    await t.close();
    rmSync(dist, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('index.html for the app and its client-side routes: never cached, strict CSP', async () => {
    for (const url of [
      '/app/',
      '/app/members',
      '/app/audit?actor=agent%3Ax',
      '/app/tokens/deep/route',
      '/app/index.html',
    ]) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.equal(res.headers['content-security-policy'], CSP, url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.match(res.body, /<div id="root">/, url);
    }
    const bare = await t.app.inject({ url: '/app' });
    assert.equal(bare.statusCode, 301);
    assert.equal(bare.headers.location, '/app/');
  });

  it('hashed assets with their content types, cached for a year', async () => {
    const cases: [string, string][] = [
      ['/app/assets/index-abc123.js', 'text/javascript; charset=utf-8'],
      ['/app/assets/index-abc123.css', 'text/css; charset=utf-8'],
      ['/app/assets/logo.svg', 'image/svg+xml'],
    ];
    for (const [url, type] of cases) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], type, url);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    }
    const other = await t.app.inject({ url: '/app/robots.txt' });
    assert.equal(other.statusCode, 200);
    assert.equal(other.headers['cache-control'], 'no-cache', 'files outside assets/ are not immutable');
    const head = await t.app.inject({ method: 'HEAD', url: '/app/assets/index-abc123.js' });
    assert.equal(head.statusCode, 200);
  });

  it('a missing asset is a 404, not the app', async () => {
    for (const url of ['/app/assets/index-old999.js', '/app/assets/', '/app/favicon.ico']) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, url);
    }
  });

  it('nothing outside the dist folder: dot segments, encoded slashes, backslashes, NUL, symlinks', async () => {
    for (const url of [
      '/app/../package.json',
      '/app/%2e%2e/%2e%2e/package.json',
      '/app/assets/..%2f..%2fpackage.json',
      '/app/assets/%2e%2e%5c%2e%2e%5cpackage.json',
      '/app/assets/index-abc123.js%00.html',
      '/app/%c0%ae%c0%ae/secret.txt',
      '/app/assets/linked.txt',
      '/app/assets/%ZZ',
    ]) {
      const res = await t.app.inject({ url });
      assert.ok([400, 404].includes(res.statusCode), `${url} → ${res.statusCode}`);
      assert.ok(!res.body.includes('not for the web'), url);
      assert.ok(!res.body.includes('"workspaces"'), url);
    }
  });

  it('/ leads to the dashboard once it is built', async () => {
    const res = await t.app.inject({ url: '/' });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/app/');
  });
});

describe('without a build', () => {
  let t: TestServer;
  let empty: string;
  before(async () => {
    empty = mkdtempSync(join(tmpdir(), 'latchkey-nodist-'));
    t = await testServer({ env: { DASHBOARD_DIR: join(empty, 'dist') } });
  });
  after(async () => {
    await t.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('/app/ says how to build it, and / stays the status page', async () => {
    const res = await t.app.inject({ url: '/app/members' });
    assert.equal(res.statusCode, 404);
    assert.match(res.body, /npm run build/);
    assert.match(
      String(res.headers['content-security-policy']),
      /style-src 'unsafe-inline'/,
      'the page may use its own styles',
    );
    const home = await t.app.inject({ url: '/' });
    assert.equal(home.statusCode, 200);
    assert.match(String(home.headers['content-type']), /^text\/html/);
  });
});
