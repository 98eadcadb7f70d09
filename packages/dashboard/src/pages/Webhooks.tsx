import { type FormEvent, useState } from 'react';
import type { WebhookDelivery, WebhookEndpoint } from '@latchkey/contract';
import { errorMessage, get, type Page, patch, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { CopyField } from '../components/Secret';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useLoad, usePaged } from '../hooks';
import { useSession } from '../session';

/** Whose endpoints a Webhooks page manages: the selected org's, or the instance's. */
export interface WebhookFamily {
  /** `/api/v1/org/webhooks` or `/api/v1/admin/webhooks`: the same routes under each. */
  base: string;
  /** The instance's endpoints belong to no org: their requests send none. */
  instance: boolean;
  intro: string;
}

export const ORG_WEBHOOKS: WebhookFamily = {
  base: '/api/v1/org/webhooks',
  instance: false,
  intro: 'Endpoints that receive this organisation’s audit events, signed with the Standard Webhooks scheme.',
};

export const INSTANCE_WEBHOOKS: WebhookFamily = {
  base: '/api/v1/admin/webhooks',
  instance: true,
  intro:
    'Endpoints that receive the audit events of every organisation and of the instance itself, signed with the Standard Webhooks scheme.',
};

const optionsOf = (f: WebhookFamily) => (f.instance ? { org: null } : {});

/**
 * Organisation → Webhooks and Instance → Webhooks: endpoints that receive audit events, their
 * delivery logs, and their signing secrets (shown once, at creation and at each rotation).
 */
export function Webhooks({ family }: { family: WebhookFamily }) {
  const { org } = useSession();
  const opts = optionsOf(family);
  const list = useLoad(
    () => get<{ data: WebhookEndpoint[] }>(family.base, opts),
    [family.base, family.instance ? null : org?.id],
  );
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const [rotating, setRotating] = useState<WebhookEndpoint | null>(null);
  const [rotated, setRotated] = useState<string | null>(null);
  const toast = useToast();
  const endpoints = list.data?.data ?? [];
  const replace = (updated: WebhookEndpoint) =>
    list.set((prev) => prev && { data: prev.data.map((x) => (x.id === updated.id ? updated : x)) });
  const enable = async (e: WebhookEndpoint) => {
    try {
      replace(await patch<WebhookEndpoint>(family.base + path`/${e.id}`, { enabled: true }, opts));
      toast('The endpoint is enabled again.');
    } catch (err) {
      toast(errorMessage(err));
    }
  };
  return (
    <>
      <PageHeader title="Webhooks">{family.intro}</PageHeader>
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
                      <Button small onClick={() => setRotating(e)} aria-label={`Rotate secret of ${e.url}`}>
                        Rotate secret
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loadable>
      </section>
      {open && <Deliveries key={open} family={family} endpoint={endpoints.find((e) => e.id === open)!} />}
      {creating && (
        <CreateDialog
          family={family}
          onClose={() => setCreating(false)}
          onCreated={(e) => list.set((prev) => ({ data: [...(prev?.data ?? []), e] }))}
        />
      )}
      {rotating && (
        <ConfirmDialog
          title="Rotate the signing secret?"
          confirmLabel="Rotate"
          busyLabel="Rotating…"
          onClose={() => setRotating(null)}
          onConfirm={async () => {
            const { secret, ...endpoint } = await post<WebhookEndpoint & { secret: string }>(
              family.base + path`/${rotating.id}/rotate-secret`,
              undefined,
              opts,
            );
            replace(endpoint);
            setRotated(secret);
          }}
        >
          <p>
            A new signing secret replaces the one for <code>{rotating.url}</code>. The old secret stops
            verifying at once: every delivery from now on, retries and resends included, is signed with the
            new one, so a receiver that still checks the old secret rejects them until it is updated.
          </p>
        </ConfirmDialog>
      )}
      {rotated && (
        <SecretShownOnce title="Signing secret rotated" secret={rotated} onClose={() => setRotated(null)} />
      )}
    </>
  );
}

function Deliveries({ family, endpoint }: { family: WebhookFamily; endpoint: WebhookEndpoint }) {
  const opts = optionsOf(family);
  const log = usePaged(
    (cursor) =>
      get<Page<WebhookDelivery>>(family.base + path`/${endpoint.id}/deliveries`, {
        ...opts,
        query: { cursor },
      }),
    [family.base, endpoint.id],
  );
  const toast = useToast();
  const resend = async (d: WebhookDelivery) => {
    try {
      const again = await post<WebhookDelivery>(
        family.base + path`/${endpoint.id}/deliveries/${d.id}/resend`,
        undefined,
        opts,
      );
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

/** A signing secret the server shows once (after a create or a rotation), with the notice to copy it now. */
function SecretShownOnce({ title, secret, onClose }: { title: string; secret: string; onClose: () => void }) {
  return (
    <Dialog title={title} onClose={onClose} footer={<Button onClick={onClose}>Done</Button>}>
      <Notice tone="warning" title="Copy the signing secret now: it is shown only once">
        <p>Verify each request with it and any Standard Webhooks library.</p>
      </Notice>
      <CopyField label="Signing secret" value={secret} secret />
    </Dialog>
  );
}

function CreateDialog({
  family,
  onClose,
  onCreated,
}: {
  family: WebhookFamily;
  onClose: () => void;
  onCreated: (e: WebhookEndpoint) => void;
}) {
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
      const created = await post<WebhookEndpoint & { secret: string }>(
        family.base,
        { url, events: list },
        optionsOf(family),
      );
      const { secret: s, ...endpoint } = created;
      onCreated(endpoint);
      setSecret(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (secret) return <SecretShownOnce title="Endpoint added" secret={secret} onClose={onClose} />;
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
