import type { ReactNode } from 'react';
import { ErrorAlert } from './Alert';
import { Button } from './Button';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function Empty({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <p className="muted">{children}</p>}
      {action}
    </div>
  );
}

export function LoadError({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <ErrorAlert error={error}>
      <Button small onClick={retry}>
        Try again
      </Button>
    </ErrorAlert>
  );
}

/** Loading, error or content: the three states of every list. */
export function Loadable({
  loading,
  error,
  retry,
  children,
}: {
  loading: boolean;
  error: unknown;
  retry: () => void;
  children: ReactNode;
}) {
  if (loading) return <Loading />;
  if (error) return <LoadError error={error} retry={retry} />;
  return <>{children}</>;
}

export function LoadMore({
  hasMore,
  busy,
  onClick,
  error,
}: {
  hasMore: boolean;
  busy: boolean;
  onClick: () => void;
  error?: unknown;
}) {
  if (!hasMore && !error) return null;
  return (
    <div className="load-more">
      <ErrorAlert error={error} />
      {hasMore && (
        <Button onClick={onClick} busy={busy}>
          {busy ? 'Loading…' : 'Load more'}
        </Button>
      )}
    </div>
  );
}
