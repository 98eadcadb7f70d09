function bench(label, f, n = 2000000) {
  for (let i = 0; i < 50000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  console.log(label.padEnd(28), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(3), 'µs');
}
const mk = (i) => ({ reqId: 'req-' + (i & 7) });
bench('{...a, ...b}', (i) => ({ ...mk(i), ...{ credential: { kind: 'pat', prefix: 'x' } } }));
bench('assign({}, a, b)', (i) => Object.assign({}, mk(i), { credential: { kind: 'pat', prefix: 'x' } }));
bench('{...a, k}', (i) => ({ ...mk(i), credential: { kind: 'pat' } }));
bench('{kind, ...(c ? {prefix} : {})}', (i) => ({ kind: 'pat', ...(i & 1 ? { prefix: 'x' } : {}) }));
