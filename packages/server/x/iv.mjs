import { issueValues, issueStatement } from '../dist/oauth/store/tokens.js';
import { mintToken } from '../dist/tokens/format.js';
import { orderedId } from '../dist/audit/ordered-id.js';
import { newId } from '../dist/lib/secrets.js';
const clock = { now: () => new Date() };
const who = { actor: 'client:abc', ip: '127.0.0.1', userAgent: 'autocannon' };
function bench(label, f, n = 200000) {
  for (let i = 0; i < 20000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(label, (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
bench('issueValues', () => issueValues(clock, who, { clientId: 'abc', refresh: false, tokenPrefix: 'lk', event: 'issued', grantType: 'client_credentials' }));
bench('mintToken', () => mintToken('at', 'lk'));
bench('orderedId', () => orderedId(Date.now()));
bench('newId', () => newId());
