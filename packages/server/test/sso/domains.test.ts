import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { DAY, HOUR, type ManualClock, manualClock, MINUTE } from '../../src/lib/clock.js';
import { recheckDomains } from '../../src/sso/domains.js';
import { clear, failWith, setTxt } from '../helpers/dns.js';
import { readOutbox, type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem, stranger, team } from '../orgs/helpers.js';
import { addDomain, auditActions, orgWithDomain, pageCode, uniqueDomain } from './helpers.js';

// Domain verification is proof of control (issue 14): an org verifies a domain only by publishing
// the TXT record `_latchkey-challenge.<domain>` it was given, looked up through DNS_SERVERS — here a
// real DNS server on loopback (test/helpers/dns.ts). The attack it pins: "add victim.example, POST
// …/verify → verified:true" on the owner's word alone, then route the victim's sign-ins to an IdP
// the attacker runs.

let t: TestServer;
let clock: ManualClock;
before(async () => {
  clock = manualClock(new Date());
  t = await testServer({ clock });
});
after(async () => t.close());

const verifyUrl = (d: string) => `/api/v1/org/sso/domains/${d}/verify`;

async function domainState(orgId: string, domain: string) {
  return t.deps.db
    .selectFrom('sso_domains')
    .select(['verified_at', 'last_checked_at', 'record_seen_at'])
    .where('org_id', '=', orgId)
    .where('domain', '=', domain)
    .executeTakeFirstOrThrow();
}

describe('SSO domain verification by DNS TXT record', () => {
  it('adding a domain answers the record to publish; list and get show it while unverified', async () => {
    const me = await stranger(t);
    const org = me.org.id;
    const domain = uniqueDomain();
    const add = await me.client.post(
      '/api/v1/org/sso/domains',
      { domain: `  ${domain.toUpperCase()}. ` },
      org,
    );
    assert.equal(add.statusCode, 201, add.body);
    const body = add.json();
    assert.equal(body.domain, domain);
    assert.equal(body.verified, false);
    assert.equal(body.challenge.name, `_latchkey-challenge.${domain}`);
    assert.equal(body.challenge.type, 'TXT');
    assert.match(body.challenge.value, /^[A-Za-z0-9_-]{32}$/);

    const list = await me.client.get('/api/v1/org/sso/domains', org);
    assert.deepEqual(list.json().data[0].challenge, body.challenge);
    const one = await me.client.get(`/api/v1/org/sso/domains/${domain}`, org);
    assert.equal(one.statusCode, 200, one.body);
    assert.deepEqual(one.json().challenge, body.challenge);

    // Each org gets its own token for the same domain: one org's record never proves another's.
    const other = await stranger(t);
    const theirs = await addDomain(other.client, other.org.id, domain);
    assert.notEqual(theirs.value, body.challenge.value);
  });

  it('record present: verified (200), audited, the challenge no longer shown', async () => {
    const me = await stranger(t);
    const org = me.org.id;
    const domain = uniqueDomain();
    const ch = await addDomain(me.client, org, domain);
    // Other TXT records at the name (e.g. an old token) do not get in the way.
    setTxt(ch.name, ['v=spf1 -all', ch.value]);
    const v = await me.client.post(verifyUrl(domain), undefined, org);
    assert.equal(v.statusCode, 200, v.body);
    assert.equal(v.json().verified, true);
    assert.equal(v.json().challenge, null);
    assert.ok(v.json().verified_at);
    assert.ok((await auditActions(t, org)).includes('sso.domain_verified'));
    const row = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('org_id', '=', org)
      .where('action', '=', 'sso.domain_verified')
      .executeTakeFirstOrThrow();
    assert.equal((row.data as { method: string }).method, 'dns_txt');
    // Verifying again is idempotent.
    const again = await me.client.post(verifyUrl(domain), undefined, org);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().verified, true);
  });

  it("attack step 3 refused: 'POST …/verify' on the owner's word alone, with no record, stays unverified (400 domain_not_verified)", async () => {
    const me = await stranger(t);
    const org = me.org.id;
    const domain = uniqueDomain('victim');
    await addDomain(me.client, org, domain);
    const v = await me.client.post(verifyUrl(domain), { verified: true, method: 'owner_confirmation' }, org);
    assertProblem(v, 400, 'domain_not_verified');
    const plain = await me.client.post(verifyUrl(domain), undefined, org);
    assertProblem(plain, 400, 'domain_not_verified');
    assert.match(plain.json().detail, /_latchkey-challenge\./);
    const list = await me.client.get('/api/v1/org/sso/domains', org);
    assert.equal(list.json().data[0].verified, false);
    assert.equal((await domainState(org, domain)).verified_at, null);
    assert.ok(!(await auditActions(t, org)).includes('sso.domain_verified'));
    // The unverified domain routes no sign-in.
    const start = await t.client().get(`/api/sso/start?email=ceo@${domain}`);
    assert.equal(start.statusCode, 404);
    assert.equal(pageCode(start.body), 'no_connection');
  });

  it('wrong value (someone else’s token, or a stale one): 400 domain_not_verified', async () => {
    const me = await stranger(t);
    const org = me.org.id;
    const domain = uniqueDomain();
    const mine = await addDomain(me.client, org, domain);
    const other = await stranger(t);
    const theirs = await addDomain(other.client, other.org.id, domain);
    setTxt(mine.name, [theirs.value, `${mine.value}x`, mine.value.slice(1)]);
    const v = await me.client.post(verifyUrl(domain), undefined, org);
    assertProblem(v, 400, 'domain_not_verified');
    assert.equal((await domainState(org, domain)).verified_at, null);
  });

  it('a failed lookup (SERVFAIL) is 503 dns_lookup_failed, never a 500, and verifies nothing', async () => {
    const me = await stranger(t);
    const org = me.org.id;
    const domain = uniqueDomain();
    const ch = await addDomain(me.client, org, domain);
    failWith(ch.name);
    const v = await me.client.post(verifyUrl(domain), undefined, org);
    assertProblem(v, 503, 'dns_lookup_failed');
    assert.equal((await domainState(org, domain)).verified_at, null);
    clear(ch.name);
  });

  it('an unreachable DNS server is 503 dns_lookup_failed', async () => {
    // A UDP port with nothing listening: the lookup is refused at once.
    const t2 = await testServer({ env: { DNS_SERVERS: '127.0.0.1:9' } });
    try {
      const me = await stranger(t2);
      const domain = uniqueDomain();
      const ch = await addDomain(me.client, me.org.id, domain);
      setTxt(ch.name, [ch.value]);
      const v = await me.client.post(verifyUrl(domain), undefined, me.org.id);
      assertProblem(v, 503, 'dns_lookup_failed');
    } finally {
      await t2.close();
    }
  });

  it('a domain verified by one org: a second org gets 409 domain_claimed, even with its own record published', async () => {
    const a = await orgWithDomain(t);
    const b = await stranger(t);
    const ch = await addDomain(b.client, b.org.id, a.domain);
    // Both tokens in DNS (as if control of the domain changed hands without A removing it).
    setTxt(ch.name, [ch.value, 'a-token-left-behind']);
    const v = await b.client.post(verifyUrl(a.domain), undefined, b.org.id);
    assertProblem(v, 409, 'domain_claimed');
    assert.equal((await domainState(b.org.id, a.domain)).verified_at, null);
  });

  it('two orgs verifying the same domain at once: exactly one wins, the other gets 409 domain_claimed', async () => {
    const domain = uniqueDomain('race');
    const x = await stranger(t);
    const y = await stranger(t);
    const cx = await addDomain(x.client, x.org.id, domain);
    const cy = await addDomain(y.client, y.org.id, domain);
    setTxt(cx.name, [cx.value, cy.value]);
    const [rx, ry] = await Promise.all([
      x.client.post(verifyUrl(domain), undefined, x.org.id),
      y.client.post(verifyUrl(domain), undefined, y.org.id),
    ]);
    assert.deepEqual([rx.statusCode, ry.statusCode].sort(), [200, 409], `${rx.body} ${ry.body}`);
    assert.equal((rx.statusCode === 409 ? rx : ry).json().code, 'domain_claimed');
  });

  it('only admins and owners add and verify domains: a member or billing person gets 403', async () => {
    const tm = await team(t);
    const org = tm.org.id;
    const domain = uniqueDomain();
    for (const role of ['member', 'billing'] as const) {
      const c = tm.people[role].client;
      assertProblem(await c.post('/api/v1/org/sso/domains', { domain }, org), 403, 'forbidden', role);
    }
    const ch = await addDomain(tm.people.admin.client, org, domain);
    setTxt(ch.name, [ch.value]);
    for (const role of ['member', 'billing'] as const) {
      const c = tm.people[role].client;
      assertProblem(await c.post(verifyUrl(domain), undefined, org), 403, 'forbidden', role);
      assertProblem(await c.get(`/api/v1/org/sso/domains/${domain}`, org), 403, 'forbidden', role);
    }
    assert.equal((await domainState(org, domain)).verified_at, null);
    const byAdmin = await tm.people.admin.client.post(verifyUrl(domain), undefined, org);
    assert.equal(byAdmin.statusCode, 200, byAdmin.body);
  });

  it("cross-org: org A cannot see, verify or delete org B's domain", async () => {
    const a = await stranger(t);
    const b = await stranger(t);
    const domain = uniqueDomain();
    const ch = await addDomain(b.client, b.org.id, domain);
    setTxt(ch.name, [ch.value]);
    // In its own org, A finds no such domain.
    assertProblem(await a.client.post(verifyUrl(domain), undefined, a.org.id), 404, 'not_found');
    assertProblem(await a.client.delete(`/api/v1/org/sso/domains/${domain}`, a.org.id), 404, 'not_found');
    assertProblem(await a.client.get(`/api/v1/org/sso/domains/${domain}`, a.org.id), 404, 'not_found');
    // Naming B's org gets A nowhere.
    assertProblem(await a.client.post(verifyUrl(domain), undefined, b.org.id), 403, 'org_forbidden');
    assertProblem(await a.client.delete(`/api/v1/org/sso/domains/${domain}`, b.org.id), 403, 'org_forbidden');
    const s = await domainState(b.org.id, domain);
    assert.equal(s.verified_at, null);
    // B's domain is untouched and B can still verify it.
    const v = await b.client.post(verifyUrl(domain), undefined, b.org.id);
    assert.equal(v.statusCode, 200, v.body);
  });

  it('DNS_SERVERS is validated at start-up and names the variable', () => {
    const load = (v: string) => loadConfig({ cwd: '/nonexistent', env: { DNS_SERVERS: v } });
    assert.deepEqual(load('1.1.1.1, 10.0.0.2:5353,[::1]:53,2606:4700::1111').dnsServers, [
      '1.1.1.1',
      '10.0.0.2:5353',
      '[::1]:53',
      '2606:4700::1111',
    ]);
    assert.equal(loadConfig({ cwd: '/nonexistent', env: {} }).dnsServers, null);
    for (const bad of [
      'dns.example.com',
      '1.1.1.1:0',
      '1.1.1.1:70000',
      '1.1.1,',
      '::1:53:x',
      '[1.1.1.1]:53',
      '1.2.3.4:5:6',
    ]) {
      assert.throws(
        () => load(bad),
        (e: unknown) => e instanceof ConfigError && e.message.includes('DNS_SERVERS'),
        bad,
      );
    }
  });
});

describe('daily re-check of verified domains', () => {
  const recheck = () =>
    recheckDomains({ db: t.deps.db, clock, config: t.deps.config, mailer: t.deps.mailer });
  /** Moves the clock on a day (and a minute, so the domain is due) and re-checks. */
  const nextDay = async () => {
    clock.advance(DAY + MINUTE);
    return recheck();
  };

  it('record still there: stays verified, last checked and seen move on', async () => {
    const o = await orgWithDomain(t);
    const before = await domainState(o.orgId, o.domain);
    await recheck(); // not due yet: checked less than a day ago
    assert.deepEqual(await domainState(o.orgId, o.domain), before);
    await nextDay();
    const after = await domainState(o.orgId, o.domain);
    assert.ok(after.verified_at);
    assert.equal(after.last_checked_at?.getTime(), clock.now().getTime());
    assert.equal(after.record_seen_at?.getTime(), clock.now().getTime());
  });

  it('record removed: still verified after 6 days, unverified after 7 — audited, owners mailed', async () => {
    const o = await orgWithDomain(t);
    // A name that must reach the mail escaped.
    await o.owner.patch('/api/v1/org', { name: 'Acme <img src=x onerror=alert(1)>' }, o.orgId);
    await nextDay(); // seen today
    const seen = (await domainState(o.orgId, o.domain)).record_seen_at!;
    clear(`_latchkey-challenge.${o.domain}`);
    for (let day = 1; day <= 5; day++) await nextDay();
    clock.set(new Date(seen.getTime() + 6 * DAY + HOUR));
    await recheck();
    const day6 = await domainState(o.orgId, o.domain);
    assert.ok(day6.verified_at, 'still verified 6 days after the record was last seen');
    assert.equal(day6.record_seen_at?.getTime(), seen.getTime());

    clock.set(new Date(seen.getTime() + 7 * DAY + 2 * HOUR));
    const out = await recheck();
    assert.ok(out.unverified.includes(o.domain));
    assert.equal((await domainState(o.orgId, o.domain)).verified_at, null);
    assert.ok((await auditActions(t, o.orgId)).includes('sso.domain_unverified'));

    const mails = (await readOutbox(t.outboxDir)).filter((m) => m.to === o.ownerEmail);
    const mail = mails.find((m) => m.subject.includes(o.domain));
    assert.ok(mail, 'the owner is told');
    assert.match(mail.text, /_latchkey-challenge\./);
    assert.ok(!mail.html.includes('<img'), 'the org name is escaped');

    // The API shows the record to publish again, and the domain routes no sign-in.
    const one = await o.owner.get(`/api/v1/org/sso/domains/${o.domain}`, o.orgId);
    assert.equal(one.json().verified, false);
    assert.equal(one.json().challenge.name, `_latchkey-challenge.${o.domain}`);
    const start = await t.client().get(`/api/sso/start?email=x@${o.domain}`);
    assert.equal(pageCode(start.body), 'no_connection');
    // Publishing it again verifies it again.
    setTxt(one.json().challenge.name, [one.json().challenge.value]);
    const v = await o.owner.post(verifyUrl(o.domain), undefined, o.orgId);
    assert.equal(v.statusCode, 200, v.body);
    assert.equal(v.json().verified, true);
  });

  it('record removed then back: the 7 days count from the last time it was seen', async () => {
    const o = await orgWithDomain(t);
    const name = `_latchkey-challenge.${o.domain}`;
    const value = (
      await t.deps.db
        .selectFrom('sso_domains')
        .select('challenge_token')
        .where('org_id', '=', o.orgId)
        .executeTakeFirstOrThrow()
    ).challenge_token;
    await nextDay();
    clear(name);
    for (let day = 1; day <= 4; day++) await nextDay();
    setTxt(name, [value]);
    await nextDay(); // seen again
    const seen = (await domainState(o.orgId, o.domain)).record_seen_at!;
    assert.equal(seen.getTime(), clock.now().getTime());
    for (let day = 1; day <= 4; day++) await nextDay();
    assert.ok((await domainState(o.orgId, o.domain)).verified_at, 'stays verified');
  });

  it('lookups that fail change nothing: a resolver outage does not unverify domains', async () => {
    const o = await orgWithDomain(t);
    const name = `_latchkey-challenge.${o.domain}`;
    const before = await domainState(o.orgId, o.domain);
    failWith(name);
    for (let day = 1; day <= 8; day++) await nextDay();
    const after = await domainState(o.orgId, o.domain);
    assert.equal(after.verified_at?.getTime(), before.verified_at?.getTime());
    clear(name);
  });
});
