import { auditRowValues } from '../dist/audit/log.js';
import { mintToken } from '../dist/tokens/format.js';
import { addMs, HOUR } from '../dist/lib/clock.js';
import { newId } from '../dist/lib/secrets.js';
import { issueValues } from '../dist/oauth/store/tokens.js';
const who = { actor: 'client:abc', ip: '127.0.0.1', userAgent: 'autocannon' };
const clock = { now: () => new Date() };
function bench(label, f, n = 200000) {
  for (let i = 0; i < 20000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(20), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
const o = { clientId: 'abc', refresh: false, tokenPrefix: 'lk', event: 'issued', grantType: 'client_credentials' };
bench('issueValues', () => issueValues(clock, who, o));
bench('clock+mint', () => { const now = clock.now(); return mintToken('at', 'lk'); });
bench('auditRowValues', () => { const now = clock.now(); return auditRowValues(who, now, { action: 'oauth.token_issued', target: `client:${o.clientId}` }); });
bench('all but spread', () => { const now = clock.now(); const at = mintToken('at', 'lk'); const a = auditRowValues(who, now, { action: 'oauth.token_issued', target: `client:${o.clientId}` }); return { a, clientId: o.clientId, atId: newId(), atHash: at.hash, atPrefix: at.display, atExpiresAt: addMs(now, HOUR) }; });
bench('issueValues', () => issueValues(clock, who, o));
