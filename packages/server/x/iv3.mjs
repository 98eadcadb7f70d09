import { auditRowValues } from '../dist/audit/log.js';
import { orderedId } from '../dist/audit/ordered-id.js';
const who = { actor: 'client:abc', ip: '127.0.0.1', userAgent: 'autocannon' };
function bench(label, f, n = 300000) {
  for (let i = 0; i < 20000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(label, (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
const now = new Date();
bench('auditRowValues', () => auditRowValues(who, now, { action: 'x', target: 'client:abc' }));
bench('orderedId', () => orderedId(now.getTime()));
bench('spread of literal', () => ({ ...{ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }, h: 8 }));
bench('new Date', () => new Date());
