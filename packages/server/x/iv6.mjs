function bench(label, f, n = 1000000) {
  for (let i = 0; i < 50000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  console.log(label.padEnd(28), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(3), 'µs');
}
const mk = (i) => ({ op: 'query', sql: 'select', params: [i] });
bench('{...req, id}', (i) => ({ ...mk(i), id: i }));
bench('assign req id', (i) => { const r = mk(i); r.id = i; return r; });
bench('{rows, ...(c?{a}:{})}', (i) => ({ rows: [], ...(i & 1 ? { a: i } : {}) }));
bench('{...big, 7 more}', (i) => ({ ...{ a: i, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }, h: 1, j: 2, k: 3, l: 4, m: 5, n: 6, o: 7 }));
bench('{...big, 2 more}', (i) => ({ ...{ a: i, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }, h: 1, j: 2 }));
bench('{...big}', (i) => ({ ...{ a: i, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 } }));
