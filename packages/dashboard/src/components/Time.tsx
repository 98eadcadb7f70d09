import { formatDateTime, formatRelative } from '../format';

/** A timestamp as "3 minutes ago", with the full date on hover and for assistive technology. */
export function Time({
  iso,
  never = '—',
  absolute = false,
}: {
  iso: string | null | undefined;
  never?: string;
  absolute?: boolean;
}) {
  if (!iso) return <span className="muted">{never}</span>;
  const full = formatDateTime(iso);
  return (
    <time dateTime={iso} title={full}>
      {absolute ? full : formatRelative(iso)}
    </time>
  );
}
