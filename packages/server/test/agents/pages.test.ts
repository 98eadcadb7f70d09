import assert from 'node:assert/strict';
import { HARNESSES } from '../../src/agents/install.js';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
} from '../helpers/harness.js';
import { assertProblem } from '../orgs/helpers.js';
import { signInByMagicLink, signupAgent, status } from './helpers.js';

const TOML = `
[[resources]]
id = "tools"
url = "https://tools.example.com/mcp"
name = "Tools <MCP>"
secret = "tools-resource-secret-0123456789abcdef"
accept_api_tokens = true

[[resources]]
id = "docs.search"
url = "https://docs.example.com/mcp"
name = "Docs"
`;

/** The review link from the agent's signup email, as a path. */
async function reviewPath(t: TestServer, human: string): Promise<string> {
  const mail = (await readOutbox(t.outboxDir))
    .filter((m) => m.to === human && /verify it/.test(m.subject))
    .at(-1)!;
  return linkIn(mail.text, `${PUBLIC_URL}/agents/review`).slice(PUBLIC_URL.length);
}

function csrfIn(html: string): string {
  const m = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no csrf token in ${html}`);
  return m[1]!;
}

function form(c: Client, url: string, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('the emailed approve / deny link', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: TOML });
  });
  after(() => t.close());

  it('signed out: offers a sign-in link mailed only to the overseer, which returns to the review page', async () => {
    const a = await signupAgent(t, { display_name: '<img src=x onerror=alert(1)>' });
    const path = await reviewPath(t, a.human);
    const anon = t.client();
    const page = await anon.get(path);
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(!page.body.includes('onerror'), 'nothing about the agent before sign-in');
    const sent = await form(anon, '/agents/review/sign-in', { agent: a.agent_id });
    assert.equal(sent.statusCode, 202, sent.body);
    const mail = await lastMailTo(t.outboxDir, a.human);
    const link = linkIn(mail.text, `${PUBLIC_URL}/api/auth/magic-link/callback`);
    const back = await followLink(anon, link);
    assert.equal(back.statusCode, 303);
    assert.equal(back.headers.location, path);
    const review = await anon.get(path);
    assert.equal(review.statusCode, 200, review.body);
    assert.ok(!review.body.includes('<img src=x'), 'the name is escaped');
    assert.match(review.body, /&#60;img src&#61;x onerror&#61;alert\(1\)&#62;/);
    assert.match(review.body, /value="approve"/);
    assert.match(review.body, /value="deny"/);
  });

  it('an unknown agent gets the same answer and no mail', async () => {
    const mails0 = (await readOutbox(t.outboxDir)).length;
    const res = await form(t.client(), '/agents/review/sign-in', { agent: crypto.randomUUID() });
    assert.equal(res.statusCode, 202);
    assert.equal((await readOutbox(t.outboxDir)).length, mails0);
    assert.equal((await t.client().get(`/agents/review?agent=${crypto.randomUUID()}`)).statusCode, 404);
    assert.equal((await t.client().get('/agents/review?agent=%3Cscript%3E')).statusCode, 404);
  });

  it('approve from the page: CSRF token required, then the human owns the org', async () => {
    const a = await signupAgent(t);
    const path = await reviewPath(t, a.human);
    const human = await signInByMagicLink(t, a.human, path);
    const csrf = csrfIn((await human.get(path)).body);
    const forged = await form(human, '/agents/review', {
      agent: a.agent_id,
      decision: 'approve',
      csrf_token: 'x',
    });
    assert.equal(forged.statusCode, 403);
    const crossSite = await human.req({
      method: 'POST',
      url: '/agents/review',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ agent: a.agent_id, decision: 'approve', csrf_token: csrf }).toString(),
    });
    assertProblem(crossSite, 403, 'csrf');
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
    const ok = await form(human, '/agents/review', {
      agent: a.agent_id,
      decision: 'approve',
      csrf_token: csrf,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(ok.body, /Agent approved/);
    assert.equal((await status(t, a.api_key)).json().claim_status, 'claimed');
    const list = await human.get('/api/v1/org/agents', a.org_id);
    assert.equal(list.json().data[0].id, a.agent_id);
    // The page now says so, and offers nothing to submit.
    const again = await human.get(path);
    assert.match(again.body, /It has been approved/);
    assert.ok(!again.body.includes('value="deny"'));
  });

  it('deny from the page: the key is dead at once', async () => {
    const a = await signupAgent(t);
    const path = await reviewPath(t, a.human);
    assert.equal((await status(t, a.api_key)).statusCode, 200);
    const human = await signInByMagicLink(t, a.human);
    const csrf = csrfIn((await human.get(path)).body);
    const res = await form(human, '/agents/review', {
      agent: a.agent_id,
      decision: 'deny',
      csrf_token: csrf,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.body, /Agent denied/);
    assertProblem(await status(t, a.api_key), 401, 'unauthorized');
    const twice = await form(human, '/agents/review', {
      agent: a.agent_id,
      decision: 'approve',
      csrf_token: csrf,
    });
    assert.equal(twice.statusCode, 409);
  });

  it('someone signed in with another address is refused and changes nothing', async () => {
    const a = await signupAgent(t);
    const path = await reviewPath(t, a.human);
    const other = t.client();
    await other.signup();
    const page = await other.get(path);
    assert.equal(page.statusCode, 403);
    assert.ok(!page.body.includes(a.human), 'the overseer address is not shown');
    const csrf = (await import('../../src/http/csrf.js')).formToken(other.cookie!);
    const res = await form(other, '/agents/review', {
      agent: a.agent_id,
      decision: 'deny',
      csrf_token: csrf,
    });
    assert.equal(res.statusCode, 403);
    assert.equal((await status(t, a.api_key)).json().claim_status, 'unclaimed');
  });
});

describe('GET /agents/install', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: TOML });
  });
  after(() => t.close());

  it('shows each harness how to add the configured MCP servers, escaped, without any key', async () => {
    const res = await t.client().get('/agents/install?harness=cursor');
    assert.equal(res.statusCode, 200);
    const html = res.body;
    assert.ok(html.indexOf('id="cursor"') < html.indexOf('id="claude-code"'), 'the asked harness first');
    for (const h of HARNESSES) assert.match(html, new RegExp(`id="${h}"`));
    for (const name of ['Claude Desktop', 'Zed', 'Gemini CLI', 'Goose', 'Cline', 'Continue'])
      assert.match(html, new RegExp(`<h2 id="[a-z-]+">${name}</h2>`), name);
    // Cursor and VS Code install from a link: the server entry, encoded, never a key.
    const unescape = (x: string) => x.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
    const cursor = /href="(cursor:\/\/anysphere\.cursor-deeplink\/mcp\/install[^"]+)"/.exec(html);
    assert.ok(cursor, 'a Cursor deeplink');
    const cursorUrl = new URL(unescape(cursor[1]!));
    assert.equal(cursorUrl.searchParams.get('name'), 'tools');
    assert.deepEqual(
      JSON.parse(Buffer.from(cursorUrl.searchParams.get('config')!, 'base64').toString('utf8')),
      {
        url: 'https://tools.example.com/mcp',
        headers: { Authorization: 'Bearer ${env:LATCHKEY_API_KEY}' },
      },
    );
    const vscode = /href="(vscode:mcp\/install\?[^"]+)"/.exec(html);
    assert.ok(vscode, 'a VS Code deeplink');
    const entry = JSON.parse(decodeURIComponent(unescape(vscode[1]!).slice('vscode:mcp/install?'.length)));
    assert.equal(entry.type, 'http');
    assert.equal(entry.url, 'https://tools.example.com/mcp');
    assert.match(html, /context_servers/, 'Zed');
    assert.match(html, /gemini mcp add --transport http/);
    assert.match(html, /mcpServers/);
    assert.match(
      html,
      /claude mcp add --transport http &#39;tools&#39; &#39;https:\/\/tools\.example\.com\/mcp&#39;/,
    );
    assert.match(html, /\[mcp_servers\.&#34;docs\.search&#34;\]/, 'codex TOML keys are quoted');
    assert.match(html, /serverUrl/);
    assert.match(html, /Tools &#60;MCP&#62;/);
    assert.ok(!html.includes('<MCP>'));
    assert.ok(!/lk_svc_agent_[0-9A-Za-z]{20}/.test(html));
    // An unknown harness still gets the page, with the generic guidance first.
    const other = await t.client().get('/agents/install?harness=emacs');
    assert.equal(other.statusCode, 200);
    assert.ok(other.body.indexOf('id="other"') < other.body.indexOf('id="cursor"'));
    const zed = (await t.client().get('/agents/install?harness=zed')).body;
    assert.ok(zed.indexOf('id="zed"') < zed.indexOf('id="cursor"'), 'zed first');
  });
});
