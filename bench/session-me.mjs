// GET /api/v1/me with a session cookie, against GET /healthz on the same server, same run.
import { compare, row, signup, startServer } from './lib.mjs';

const server = await startServer();
try {
  const cookie = await signup(server.url);
  const r = await compare(server.url, { path: '/api/v1/me', headers: { cookie } }, { path: '/healthz' });
  console.log('bench/session-me');
  console.log(row('GET /healthz (baseline)', r.baseline));
  console.log(row('GET /api/v1/me (session cookie)', r.target));
  console.log(`ratio me/baseline: ${r.rpsRatio.toFixed(2)} × req/s, ${r.p99Ratio.toFixed(2)} × p99`);
  console.log(
    JSON.stringify({
      bench: 'session-me',
      baseline: r.baseline,
      me: r.target,
      rps_ratio: r.rpsRatio,
      p99_ratio: r.p99Ratio,
    }),
  );
} finally {
  server.stop();
}
