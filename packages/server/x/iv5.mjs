import { auditRowValues } from '../dist/audit/log.js';
const who = { actor: 'client:abc', ip: '127.0.0.1', userAgent: 'autocannon' };
function bench(label, f, n = 300000) {
  for (let i = 0; i < 20000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(20), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
const now = new Date();
const extra = () => ({ clientId: 'abc', atId: 'x', atHash: 'h', atPrefix: 'p', atExpiresAt: now, rtId: null, rtHash: null, rtPrefix: null, rtExpiresAt: null, grantType: 'cc' });
bench('spread', () => ({ ...auditRowValues(who, now, { action: 'a', target: 't' }), clientId: 'abc', atId: 'x', atHash: 'h', atPrefix: 'p', atExpiresAt: now, rtId: null, rtHash: null, rtPrefix: null, rtExpiresAt: null, grantType: 'cc' }));
bench('spread 2 small', () => ({ ...auditRowValues(who, now, { action: 'a', target: 't' }), clientId: 'abc', atId: 'x' }));
bench('assign', () => Object.assign(auditRowValues(who, now, { action: 'a', target: 't' }), extra()));
bench('two spreads', () => ({ ...auditRowValues(who, now, { action: 'a', target: 't' }), ...extra() }));
