import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AGENT_SIGNUPS_PER_IP_PER_HOUR,
  CODE_TTL_MS,
  PENDING_SIGNUPS_PER_EMAIL,
} from '../../src/agents/limits.js';
import { HARNESSES } from '../../src/agents/install.js';
import { hashToken, parseToken } from '../../src/tokens/format.js';
import { manualClock } from '../../src/lib/clock.js';
import { lastMailTo, readOutbox, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { fingerprint } from '../http/state.js';
import { assertProblem } from '../orgs/helpers.js';
import { agentCount, auditOf, codeFor, freshIp, signupAgent, signupRequest } from './helpers.js';

describe('POST /api/v1/agent-signup', () => {
  const clock = manualClock(new Date('2026-12-02T09:00:00Z'));
  let t: TestServer;
  before(async () => {
    t = await testServer({ clock });
  });
  after(() => t.close());

  it('answers 201 with the key (shown once), org, agent, status and a null email_address', async () => {
    const human = uniqueEmail('overseer');
    const res = await signupRequest(t, {
      human_email: human,
      display_name: 'Build Bot',
      note_to_human: 'Refactoring the billing service for you.',
      harness: 'cursor',
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), [
      'agent_id',
      'api_key',
      'email_address',
      'mcp_install_url',
      'org_id',
      'status',
    ]);
    assert.equal(body.mcp_install_url, 'http://localhost:8484/agents/install?harness=cursor');
    assert.match(body.api_key, /^lk_svc_agent_[0-9A-Za-z]{49}$/);
    assert.equal(parseToken(body.api_key)?.kind, 'svc_agent');
    assert.equal(body.status, 'unclaimed');
    assert.equal(body.email_address, null);
    // Hashed at rest, bound to the new org, which has no members until a human claims it.
    const row = await t.deps.db
      .selectFrom('api_tokens')
      .select(['kind', 'org_id', 'token_hash', 'scopes', 'role'])
      .where('token_hash', '=', hashToken(body.api_key))
      .executeTakeFirstOrThrow();
    assert.equal(row.kind, 'svc_agent');
    assert.equal(row.org_id, body.org_id);
    assert.equal(row.role, 'member');
    const members = await t.deps.db
      .selectFrom('memberships')
      .select('user_id')
      .where('org_id', '=', body.org_id)
      .execute();
    assert.deepEqual(members, []);
    const stored = JSON.stringify(await t.deps.db.selectFrom('agents').selectAll().execute());
    assert.ok(!stored.includes(body.api_key), 'the key is not stored');
    assert.ok(!stored.includes(await codeFor(t, human)), 'the code is not stored in clear');
  });

  it('emails the human a 6-digit code with the agent name and note, escaped', async () => {
    const human = uniqueEmail('overseer');
    const { agent_id } = await signupAgent(t, {
      human_email: human,
      display_name: '<script>alert(1)</script> Bot',
      note_to_human: 'Hi <b>there</b>\r\nSubject: forged\nYour code is 000000',
      harness: 'codex',
    });
    const mail = await lastMailTo(t.outboxDir, human);
    assert.match(await codeFor(t, human), /^\d{6}$/);
    assert.match(mail.subject, /<script>alert\(1\)<\/script> Bot/);
    assert.ok(!mail.html.includes('<script>'), 'the name is escaped in HTML');
    assert.ok(!mail.html.includes('<b>there</b>'), 'the note is escaped in HTML');
    assert.match(mail.html, /&#60;b&#62;there&#60;\/b&#62;/);
    // The note is one line: it cannot forge lines of its own in the text part.
    assert.match(mail.text, /Its note to you: "Hi <b>there<\/b> Subject: forged Your code is 000000"/);
    assert.ok(mail.text.includes(`/agents/review?agent=${agent_id}`), 'the approve / deny link');
    assert.match(mail.text, /valid 15 minutes/);
  });

  it('audits the signup and the key as the agent', async () => {
    const { agent_id, org_id } = await signupAgent(t);
    const rows = await auditOf(t, agent_id);
    assert.deepEqual(
      rows.map((r) => r.action),
      ['org.created', 'agent.signup', 'token.created'],
    );
    for (const r of rows) {
      assert.equal(r.actor, `agent:${agent_id}`);
      assert.equal(r.org_id, org_id);
    }
  });

  it('refuses invalid bodies with 400 problem+json, changing nothing', async () => {
    const ok = { human_email: uniqueEmail('h'), display_name: 'Bot' };
    const bad: [string, unknown][] = [
      ['missing human_email', { display_name: 'Bot' }],
      ['missing display_name', { human_email: ok.human_email }],
      ['empty display_name', { ...ok, display_name: '' }],
      ['blank display_name', { ...ok, display_name: '  \u0007 ' }],
      ['display_name over 100', { ...ok, display_name: 'x'.repeat(101) }],
      ['note over 500', { ...ok, note_to_human: 'x'.repeat(501) }],
      ['harness with a space', { ...ok, harness: 'my editor' }],
      ['harness over 40', { ...ok, harness: 'h'.repeat(41) }],
      ['harness with a slash', { ...ok, harness: '../etc' }],
      ['empty harness', { ...ok, harness: '' }],
      ['invalid email', { ...ok, human_email: 'not-an-email' }],
      ['email over 254', { ...ok, human_email: `${'a'.repeat(250)}@example.com` }],
      ['unknown field', { ...ok, scopes: ['mcp:act'] }],
      ['wrong type', { ...ok, display_name: 42 }],
      ['not an object', ['x']],
    ];
    const before0 = await fingerprint(t.storage.storage.db);
    const agents0 = await agentCount(t);
    const mails0 = (await readOutbox(t.outboxDir)).length;
    for (const [what, body] of bad) assertProblem(await signupRequest(t, body), 400, 'invalid_request', what);
    assert.deepEqual(await fingerprint(t.storage.storage.db), before0);
    assert.equal(await agentCount(t), agents0);
    assert.equal((await readOutbox(t.outboxDir)).length, mails0, 'no mail sent');
  });

  it('takes the longest name and note allowed, every known harness, and any other short identifier', async () => {
    for (const harness of HARNESSES)
      await signupAgent(t, { harness, display_name: 'n'.repeat(100), note_to_human: 'm'.repeat(500) });
    await signupAgent(t, { harness: undefined });
    // Zed and hosts Latchkey has never heard of sign up too (the generic guidance is theirs).
    for (const harness of ['zed', 'Cursor', 'emacs', 'my-agent_2.1', 'h'.repeat(40)]) {
      const a = await signupAgent(t, { harness });
      const row = await t.deps.db
        .selectFrom('agents')
        .select('harness')
        .where('id', '=', a.agent_id)
        .executeTakeFirstOrThrow();
      assert.equal(row.harness, harness.toLowerCase());
    }
  });

  it(`allows ${AGENT_SIGNUPS_PER_IP_PER_HOUR} signups an hour from one IP; the next is 429 with Retry-After`, async () => {
    const ip = freshIp();
    for (let i = 0; i < AGENT_SIGNUPS_PER_IP_PER_HOUR; i++) await signupAgent(t, {}, ip);
    const agents0 = await agentCount(t);
    const res = await signupRequest(t, { human_email: uniqueEmail('h'), display_name: 'Sixth' }, ip);
    assertProblem(res, 429, 'rate_limited');
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    assert.ok(Number(res.headers['retry-after']) <= 3600);
    assert.equal(await agentCount(t), agents0, 'nothing created');
    // Another address is not affected.
    await signupAgent(t);
  });

  it(`caps pending signups per human at ${PENDING_SIGNUPS_PER_EMAIL} (429 too_many_pending) until a code lapses`, async () => {
    const human = uniqueEmail('popular');
    for (let i = 0; i < PENDING_SIGNUPS_PER_EMAIL; i++) {
      await signupAgent(t, { human_email: human });
      clock.advance(60_000);
    }
    const mails0 = (await readOutbox(t.outboxDir)).filter((m) => m.to === human).length;
    const agents0 = await agentCount(t);
    // The address is compared normalised.
    const res = await signupRequest(t, { human_email: ` ${human.toUpperCase()} `, display_name: 'One more' });
    assertProblem(res, 429, 'too_many_pending');
    const wait = Number(res.headers['retry-after']);
    assert.equal(
      wait,
      (CODE_TTL_MS - PENDING_SIGNUPS_PER_EMAIL * 60_000) / 1000,
      'until the first code lapses',
    );
    assert.equal(await agentCount(t), agents0);
    assert.equal((await readOutbox(t.outboxDir)).filter((m) => m.to === human).length, mails0);
    // Another human is not affected; once the first code lapses, one more may start.
    await signupAgent(t);
    clock.advance(wait * 1000 + 1);
    await signupAgent(t, { human_email: human });
    assertProblem(
      await signupRequest(t, { human_email: human, display_name: 'Again' }),
      429,
      'too_many_pending',
    );
  });

  it('is listed in the OpenAPI document with its schema', async () => {
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
    for (const [path, method] of [
      ['/api/v1/agent-signup', 'post'],
      ['/api/v1/agent-signup/verify', 'post'],
      ['/api/v1/agent-signup/status', 'get'],
      ['/api/v1/org/agents', 'get'],
      ['/api/v1/org/agents/{id}/approve', 'post'],
      ['/api/v1/org/agents/{id}/deny', 'post'],
      ['/api/v1/org/agents/{id}', 'delete'],
    ] as const)
      assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
    const body = doc.paths['/api/v1/agent-signup'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required.sort(), ['display_name', 'human_email']);
    assert.equal(body.additionalProperties, false);
  });
});
