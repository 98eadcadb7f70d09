import { useEffect, useState } from 'react';
import { get, path } from '../api';

export interface TokenUsage {
  token_id: string;
  total: number;
  days: { day: string; requests: number }[];
}

const WIDTH = 120;
const HEIGHT = 28;

/**
 * An org key's requests per day over the last 30 days (UTC), as a small bar chart: one bar a day,
 * today on the right. The counts come from `GET /api/v1/org/tokens/:id/usage`; they are written
 * in batches, so the last few seconds may not show yet.
 */
export function UsageChart({ tokenId, label }: { tokenId: string; label: string }) {
  const [usage, setUsage] = useState<TokenUsage | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    get<TokenUsage>(path`/api/v1/org/tokens/${tokenId}/usage`, { query: { days: 30 } }).then(
      (u) => live && setUsage(u),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [tokenId]);
  if (failed) return <span className="muted small">Unavailable</span>;
  if (!usage) return <span className="muted small">…</span>;
  const max = Math.max(1, ...usage.days.map((d) => d.requests));
  const w = WIDTH / usage.days.length;
  return (
    <figure className="usage-chart" style={{ margin: 0 }}>
      <svg
        width={WIDTH}
        height={HEIGHT}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${label}: ${usage.total.toLocaleString()} requests in the last ${usage.days.length} days`}
      >
        {usage.days.map((d, i) => {
          const h = d.requests === 0 ? 1 : Math.max(2, (d.requests / max) * HEIGHT);
          return (
            <rect
              key={d.day}
              x={i * w + 0.5}
              y={HEIGHT - h}
              width={Math.max(1, w - 1)}
              height={h}
              fill={d.requests === 0 ? 'currentColor' : 'var(--accent, #3b6cf6)'}
              opacity={d.requests === 0 ? 0.2 : 1}
            >
              <title>{`${d.day}: ${d.requests.toLocaleString()} requests`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="muted small" data-testid="usage-total">
        {usage.total.toLocaleString()} in 30 days
      </figcaption>
    </figure>
  );
}
