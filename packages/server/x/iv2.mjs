import { auditRowValues } from '../dist/audit/log.js';
import { mintToken } from '../dist/tokens/format.js';
import { addMs } from '../dist/lib/clock.js';
import { newId } from '../dist/lib/secrets.js';
const who = { actor: 'client:abc', ip: '127.0.0.1', userAgent: 'autocannon' };
function bench(label, f, n = 200000) {
  for (let i = 0; i < 20000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(label, (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
bench('spread', () => { const now = new Date(); return { ...auditRowValues(who, now, { action: 'x', target: `client:${'abc'}` }), clientId: 'abc', atId: newId(), atExpiresAt: addMs(now, 3600000) }; });
bench('mint', () => mintToken('at', 'lk'));
bench('mint+spread', () => { const now = new Date(); const at = mintToken('at', 'lk'); return { ...auditRowValues(who, now, { action: 'x', target: `client:${'abc'}` }), clientId: 'abc', atId: newId(), atHash: at.hash, atExpiresAt: addMs(now, 3600000) }; });
bench('mint', () => mintToken('at', 'lk'));
