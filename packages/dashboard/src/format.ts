const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/** "3 minutes ago", "in 6 days". */
export function formatRelative(iso: string, now = Date.now()): string {
  let value = (new Date(iso).getTime() - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return formatDateTime(iso);
}

/** Who made a token, from the server's provenance string. */
export function createdBy(provenance: string): string {
  if (provenance === 'session') return 'Dashboard or browser session';
  if (provenance === 'admin-token') return 'Break-glass admin token';
  const [kind, prefix] = provenance.split(':');
  const names: Record<string, string> = {
    'org-token': 'Org API key',
    pat: 'Personal token',
    svc: 'Service token',
    oauth: 'OAuth app',
  };
  return prefix ? `${names[kind ?? ''] ?? kind} ${prefix}` : provenance;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
