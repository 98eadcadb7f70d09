import { Dialog } from '../components/Dialog';
import { formatDateTime } from '../format';
import type { AuditEvent } from '@latchkey/contract';

export function AuditDrawer({
  event,
  name,
  onClose,
}: {
  event: AuditEvent;
  name?: string | undefined;
  onClose: () => void;
}) {
  return (
    <Dialog title={event.action} onClose={onClose} drawer>
      <dl className="facts">
        <dt>When</dt>
        <dd>
          <time dateTime={event.created_at}>{formatDateTime(event.created_at)}</time>
        </dd>
        <dt>Actor</dt>
        <dd>
          {name && <span>{name} </span>}
          <span className="mono">{event.actor}</span>
        </dd>
        <dt>Target</dt>
        <dd className="mono">{event.target ?? '—'}</dd>
        <dt>IP address</dt>
        <dd className="mono">{event.ip ?? '—'}</dd>
        <dt>User agent</dt>
        <dd className="break">{event.user_agent ?? '—'}</dd>
        <dt>Event id</dt>
        <dd className="mono">{event.id}</dd>
      </dl>
      <h3>Data</h3>
      <pre className="code-block" tabIndex={0} aria-label="Event data as JSON">
        {JSON.stringify(event.data, null, 2)}
      </pre>
    </Dialog>
  );
}
