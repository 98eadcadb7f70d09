import { type FormEvent, useEffect, useState } from 'react';
import { del, get, patch } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { Loadable } from '../components/States';
import { useToast } from '../components/Toast';
import { formatDateTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { OrgMfaSettings } from './OrgMfa';
import type { OrgDetails } from '@latchkey/contract';

export function OrgSettings() {
  const { org, can, refresh, features } = useSession();
  const { query } = useLocation();
  const details = useLoad(() => get<OrgDetails>('/api/v1/org'), [org?.id]);
  const [deleting, setDeleting] = useState(false);
  const toast = useToast();

  // Old links to "settings?tab=tokens" lead to the tokens page.
  useEffect(() => {
    if (query.get('tab') === 'tokens') navigate('/tokens', { replace: true });
  }, [query]);

  return (
    <>
      <PageHeader title="Organisation settings" />
      <Loadable loading={details.loading && !details.data} error={details.error} retry={details.reload}>
        {details.data && (
          <>
            {can('org:update') ? (
              <RenameForm
                org={details.data}
                onSaved={async (next) => {
                  details.set(() => next);
                  await refresh(next.id);
                  toast('Organisation settings saved.');
                }}
              />
            ) : (
              <section className="section card">
                <dl className="facts">
                  <dt>Name</dt>
                  <dd>{details.data.name}</dd>
                  <dt>Slug</dt>
                  <dd className="mono">{details.data.slug}</dd>
                  <dt>Your role</dt>
                  <dd>{details.data.role}</dd>
                </dl>
                <p className="muted">Only admins and owners change these.</p>
              </section>
            )}
            {features.has('/api/v1/org/mfa') && <OrgMfaSettings />}
            <section className="section card" aria-labelledby="org-facts">
              <h2 id="org-facts">About</h2>
              <dl className="facts">
                <dt>Organisation id</dt>
                <dd className="mono">{details.data.id}</dd>
                <dt>Created</dt>
                <dd>{formatDateTime(details.data.created_at)}</dd>
              </dl>
              <p className="muted small">
                API calls name this organisation with the <code>x-org-id</code> header: its id or its slug.
              </p>
            </section>
            {can('org:delete') && (
              <section className="section card danger-zone" aria-labelledby="danger-heading">
                <h2 id="danger-heading">Delete this organisation</h2>
                <p>
                  Everyone loses access at once. Its API keys, service tokens, apps and grants stop working.
                  This cannot be undone.
                </p>
                <Button variant="danger" onClick={() => setDeleting(true)}>
                  Delete organisation…
                </Button>
              </section>
            )}
            {deleting && (
              <ConfirmDialog
                title={`Delete ${details.data.name}?`}
                confirmLabel="Delete organisation"
                busyLabel="Deleting…"
                typed={details.data.slug}
                onClose={() => setDeleting(false)}
                onConfirm={async () => {
                  const name = details.data?.name ?? 'The organisation';
                  await del('/api/v1/org');
                  // Pick another org before anything asks for the deleted one.
                  await refresh();
                  navigate('/', { replace: true });
                  toast(`${name} was deleted.`);
                }}
              >
                <p>
                  Members, invitations, keys, OAuth apps and grants of <strong>{details.data.name}</strong>{' '}
                  are removed for good.
                </p>
              </ConfirmDialog>
            )}
          </>
        )}
      </Loadable>
    </>
  );
}

function RenameForm({ org, onSaved }: { org: OrgDetails; onSaved: (o: OrgDetails) => Promise<void> }) {
  const [name, setName] = useState(org.name);
  const [slug, setSlug] = useState(org.slug);
  const changed = name.trim() !== org.name || slug.trim() !== org.slug;
  const action = useAction(async () => {
    const body: Record<string, string> = {};
    if (name.trim() !== org.name) body.name = name.trim();
    if (slug.trim() !== org.slug) body.slug = slug.trim();
    await onSaved(await patch<OrgDetails>('/api/v1/org', body));
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (changed) void action.run();
  };
  return (
    <section className="section card" aria-labelledby="general-heading">
      <h2 id="general-heading">General</h2>
      <form onSubmit={submit}>
        <TextField
          label="Name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <TextField
          label="Slug"
          required
          maxLength={40}
          pattern="[a-z0-9][a-z0-9\-]*"
          hint="Lowercase letters, digits and dashes. Scripts that send the old slug in x-org-id stop finding the organisation."
          value={slug}
          onChange={(e) => setSlug(e.target.value)}
        />
        <ErrorAlert error={action.error} />
        <Button type="submit" variant="primary" busy={action.busy} disabled={!changed}>
          {action.busy ? 'Saving…' : 'Save changes'}
        </Button>
      </form>
    </section>
  );
}
