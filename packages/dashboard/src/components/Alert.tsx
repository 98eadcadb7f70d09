import type { ReactNode } from 'react';
import { errorMessage } from '../api';

/** An API or network error in words; nothing when there is no error. */
export function ErrorAlert({ error, children }: { error: unknown; children?: ReactNode }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      <p>{errorMessage(error)}</p>
      {children}
    </div>
  );
}

export function Notice({
  tone = 'info',
  title,
  children,
}: {
  tone?: 'info' | 'warning' | 'success';
  title?: string;
  children: ReactNode;
}) {
  return (
    <div className={`alert alert-${tone}`} role={tone === 'warning' ? 'note' : 'status'}>
      {title && <p className="alert-title">{title}</p>}
      {children}
    </div>
  );
}
