import { useState } from 'react';
import { del, get, path } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable } from '../components/States';
import { useToast } from '../components/Toast';
import { useLoad } from '../hooks';
import { useSession } from '../session';
import { AddConnectionDialog } from './sso/AddConnectionDialog';
import { ConnectionRow, ServiceProviderUrls } from './sso/ConnectionRow';
import { Domains } from './sso/Domains';
import { Enforcement } from './sso/Enforcement';
import type { SsoConnection } from '@latchkey/contract';

/** Single sign-on: connections to the org's identity providers, its verified domains and enforcement. */
export function Sso() {
  const { org } = useSession();
  const conns = useLoad(() => get<{ data: SsoConnection[] }>('/api/v1/org/sso/connections'), [org?.id]);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<SsoConnection | null>(null);
  const [deleting, setDeleting] = useState<SsoConnection | null>(null);
  const toast = useToast();
  const replace = (next: SsoConnection) =>
    conns.set((prev) => prev && { data: prev.data.map((c) => (c.id === next.id ? next : c)) });
  return (
    <>
      <PageHeader
        title="Single sign-on"
        actions={
          <Button variant="primary" onClick={() => setAdding(true)}>
            Add connection
          </Button>
        }
      >
        Let the people of {org?.name} sign in through your identity provider (OIDC or SAML).
      </PageHeader>
      <section className="section" aria-labelledby="sso-connections">
        <h2 id="sso-connections">Connections</h2>
        <p className="muted">
          A connection signs people in only once it is enabled, and it can be enabled only after a test
          passes.
        </p>
        <Loadable loading={conns.loading && !conns.data} error={conns.error} retry={conns.reload}>
          {conns.data && conns.data.data.length === 0 ? (
            <Empty
              title="No connections yet"
              action={
                <Button variant="primary" onClick={() => setAdding(true)}>
                  Add connection
                </Button>
              }
            >
              Add your identity provider to let members sign in with it.
            </Empty>
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">Connection</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last test</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {conns.data?.data.map((c) => (
                  <ConnectionRow key={c.id} conn={c} onChanged={replace} onDelete={setDeleting} />
                ))}
              </tbody>
            </table>
          )}
        </Loadable>
      </section>
      <Domains />
      <Enforcement />
      {adding && (
        <AddConnectionDialog
          onClose={() => setAdding(false)}
          onCreated={(c) => {
            conns.reload();
            setCreated(c);
            toast(`Added ${c.name}. Test it, then enable it.`);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete connection"
          busyLabel="Deleting…"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/sso/connections/${deleting.id}`);
            conns.set((prev) => prev && { data: prev.data.filter((x) => x.id !== deleting.id) });
            toast(`${deleting.name} was deleted.`);
          }}
        >
          <p>
            Nobody can sign in through it any more.
            {deleting.enabled && ' If it is the only enabled connection, SSO is no longer enforced.'} Accounts
            it made stay members.
          </p>
        </ConfirmDialog>
      )}
      {created && (
        <Dialog
          title={`Set up ${created.name} in your identity provider`}
          onClose={() => setCreated(null)}
          footer={
            <Button variant="primary" onClick={() => setCreated(null)}>
              Done
            </Button>
          }
        >
          <p>Give your identity provider these values from Latchkey, then test the connection.</p>
          <ServiceProviderUrls conn={created} copy />
        </Dialog>
      )}
    </>
  );
}
