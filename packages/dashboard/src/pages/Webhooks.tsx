import { type FormEvent, useState } from 'react';
import { errorMessage, get, type Page, patch, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { CopyField } from '../components/Secret';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useLoad, usePaged } from '../hooks';
import { useSession } from '../session';

interface Endpoint {
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
}

interface Delivery {
  id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  response_status: number | null;
  error: string | null;
  created_at: string;
}

const BASE = '/api/v1/org/webhooks';

/** Organisation → Webhooks: endpoints that receive the org's audit events, and their delivery logs. */
export function Webhooks() {
  const { org } = useSession();
  const list = useLoad(() => get<{ data: Endpoint[] }>(BASE), [org?.id]);
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const toast = useToast();
  const endpoints = list.data?.data ?? [];
  const enable = async (e: Endpoint) => {
    try {
      const updated = await patch<Endpoint>(path`/api/v1/org/webhooks/${e.id}`, { enabled: true });
      list.set((prev) => prev && { data: prev.data.map((x) => (x.id === e.id ? updated : x)) });
      toast('The endpoint is enabled again.');
    } catch (err) {
      toast(errorMessage(err));
    }
  };
  return (
    <>
      <PageHeader title="Webhooks">
        Endpoints that receive this organisation’s audit events, signed with the Standard Webhooks scheme.
      </PageHeader>
      <section className="section" aria-labelledby="webhook-list-heading">
        <div className="section-header">
          <h2 id="webhook-list-heading">Endpoints</h2>
          <Button variant="primary" onClick={() => setCreating(true)}>
            New endpoint
          </Button>
        </div>
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {endpoints.length === 0 ? (
            <Empty title="No endpoints">Add one with “New endpoint”. Its signing secret is shown once.</Empty>
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Events</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {endpoints.map((e) => (
                  <tr key={e.id}>
                    <td data-label="URL">
                      <code>{e.url}</code>
                    </td>
                    <td data-label="Events">{e.events.join(', ')}</td>
                    <td data-label="State">
                      {e.enabled ? (
                        <span className="badge">Enabled</span>
                      ) : (
                        <span className="badge badge-danger">
                          {e.disabled_reason === 'failing' ? 'Disabled: failing' : 'Disabled'}
                        </span>
                      )}
                    </td>
                    <td className="actions">
                      {!e.enabled && (
                        <Button small onClick={() => void enable(e)}>
                          Enable
                        </Button>
                      )}
                      <Button
                        small
                        onClick={() => setOpen(open === e.id ? null : e.id)}
                        aria-expanded={open === e.id}
                      >
                        Deliveries
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loadable>
      </section>
      {open && <Deliveries key={open} endpoint={endpoints.find((e) => e.id === open)!} />}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(e) => list.set((prev) => ({ data: [...(prev?.data ?? []), e] }))}
        />
      )}
    </>
  );
}

function Deliveries({ endpoint }: { endpoint: Endpoint }) {
  const log = usePaged(
    (cursor) =>
      get<Page<Delivery>>(path`/api/v1/org/webhooks/${endpoint.id}/deliveries`, { query: { cursor } }),
    [endpoint.id],
  );
  const toast = useToast();
  const resend = async (d: Delivery) => {
    try {
      const again = await post<Delivery>(path`/api/v1/org/webhooks/${endpoint.id}/deliveries/${d.id}/resend`);
      log.prepend(again);
      toast(`${d.event_type} will be sent again.`);
    } catch (err) {
      toast(errorMessage(err));
    }
  };
  return (
    <section className="section" aria-labelledby="delivery-log-heading">
      <div className="section-header">
        <h2 id="delivery-log-heading">Delivery log</h2>
        <Button small onClick={log.reload}>
          Refresh
        </Button>
      </div>
      <Loadable loading={log.loading} error={log.error} retry={log.reload}>
        {log.items.length === 0 ? (
          <Empty title="No deliveries yet">Events appear here as they are sent.</Empty>
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Response</th>
                <th scope="col">Next attempt</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {log.items.map((d) => (
                <tr key={d.id}>
                  <td data-label="Event">
                    <code>{d.event_type}</code>
                    <div className="muted small">
                      <Time iso={d.created_at} />
                    </div>
                  </td>
                  <td data-label="Status">{d.status}</td>
                  <td data-label="Attempts">{d.attempts}</td>
                  <td data-label="Response">{d.response_status ?? d.error ?? '—'}</td>
                  <td data-label="Next attempt">
                    <Time iso={d.next_attempt_at} never="—" />
                  </td>
                  <td className="actions">
                    <Button
                      small
                      disabled={!endpoint.enabled}
                      onClick={() => void resend(d)}
                      aria-label={`Resend ${d.event_type}`}
                    >
                      Resend
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <LoadMore hasMore={log.hasMore} busy={log.loadingMore} onClick={log.loadMore} />
      </Loadable>
    </section>
  );
}

function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (e: Endpoint) => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('*');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const list = events.split(/[\s,]+/).filter((x) => x !== '');
      const created = await post<Endpoint & { secret: string }>(BASE, { url, events: list });
      const { secret: s, ...endpoint } = created;
      onCreated(endpoint);
      setSecret(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (secret)
    return (
      <Dialog title="Endpoint added" onClose={onClose} footer={<Button onClick={onClose}>Done</Button>}>
        <Notice tone="warning" title="Copy the signing secret now: it is shown only once">
          <p>Verify each request with it and any Standard Webhooks library.</p>
        </Notice>
        <CopyField label="Signing secret" value={secret} secret />
      </Dialog>
    );
  return (
    <Dialog title="New webhook endpoint" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        {error !== null && <ErrorAlert error={error} />}
        <TextField
          label="URL"
          type="url"
          required
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          hint="https only."
        />
        <TextField
          label="Events"
          required
          value={events}
          onChange={(e) => setEvents(e.target.value)}
          hint="Event types (member.role_changed), families (member.*) or * for all, separated by commas."
        />
        <Button variant="primary" type="submit" busy={busy}>
          Add endpoint
        </Button>
      </form>
    </Dialog>
  );
}
