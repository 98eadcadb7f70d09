import { useState } from 'react';
import { del, get, type Page, path, post } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { PageHeader } from '../components/PageHeader';
import { SecretOnce } from '../components/Secret';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useLoad, usePaged } from '../hooks';
import { useSession } from '../session';
import type { OAuthApp } from '@latchkey/contract';
import { OAuthAppDialog } from './OAuthAppDialog';

type Editing = { app: OAuthApp | null } | null;

export function OAuthApps() {
  const { org } = useSession();
  const list = usePaged(
    (cursor) => get<Page<OAuthApp>>('/api/v1/oauth/clients', { query: { cursor } }),
    [org?.id],
  );
  // An org app may ask for Latchkey's own API scopes (listed in that API's resource metadata
  // only) and for the configured resources' scopes (the authorization server's list).
  const scopes = useLoad(async () => {
    const [api, server] = await Promise.all([
      get<{ scopes_supported?: string[] }>('/.well-known/oauth-protected-resource/api', { org: null }),
      get<{ scopes_supported?: string[] }>('/.well-known/oauth-authorization-server', { org: null }),
    ]);
    return [...new Set([...(api.scopes_supported ?? []), ...(server.scopes_supported ?? [])])];
  }, []);
  const [editing, setEditing] = useState<Editing>(null);
  const [rotating, setRotating] = useState<OAuthApp | null>(null);
  const [secret, setSecret] = useState<OAuthApp | null>(null);
  const [deleting, setDeleting] = useState<OAuthApp | null>(null);
  const toast = useToast();

  return (
    <>
      <PageHeader
        title="OAuth apps"
        actions={
          <Button variant="primary" onClick={() => setEditing({ app: null })}>
            New OAuth app
          </Button>
        }
      >
        Apps that sign people of {org?.name} in with Latchkey, or call its APIs as themselves.
      </PageHeader>
      <section className="section" aria-label="Apps">
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {list.items.length === 0 ? (
            <Empty
              title="No OAuth apps"
              action={<Button onClick={() => setEditing({ app: null })}>Create the first one</Button>}
            >
              Register an app to get a client id (and a secret, for server apps).
            </Empty>
          ) : (
            <ul className="app-list">
              {list.items.map((a) => (
                <li key={a.id} className="card app-card">
                  <div className="app-head">
                    <h2>{a.name}</h2>
                    <span className="badge">{a.type}</span>
                  </div>
                  <dl className="facts">
                    <dt>Client id</dt>
                    <dd className="mono">{a.client_id}</dd>
                    <dt>Redirect URIs</dt>
                    <dd>
                      {a.redirect_uris.length ? (
                        <ul className="chips">
                          {a.redirect_uris.map((u) => (
                            <li key={u}>{u}</li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">None</span>
                      )}
                    </dd>
                    <dt>Scopes</dt>
                    <dd>
                      {a.scopes ? (
                        <ul className="chips">
                          {a.scopes.map((s) => (
                            <li key={s}>{s}</li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">Any of the requested resource’s</span>
                      )}
                    </dd>
                    <dt>Grants</dt>
                    <dd className="small">
                      {a.grant_types
                        .map((g) => g.replace('urn:ietf:params:oauth:grant-type:', ''))
                        .join(', ')}
                    </dd>
                    <dt>Created</dt>
                    <dd>
                      <Time iso={a.created_at} />
                    </dd>
                  </dl>
                  <div className="form-actions">
                    <Button small onClick={() => setEditing({ app: a })} aria-label={`Edit ${a.name}`}>
                      Edit
                    </Button>
                    {a.type === 'confidential' && (
                      <Button
                        small
                        onClick={() => setRotating(a)}
                        aria-label={`Rotate the secret of ${a.name}`}
                      >
                        Rotate secret
                      </Button>
                    )}
                    <Button
                      small
                      variant="danger"
                      onClick={() => setDeleting(a)}
                      aria-label={`Delete ${a.name}`}
                    >
                      Delete
                    </Button>
                  </div>
                </li>
              ))}
            </ul>
          )}
          <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
        </Loadable>
      </section>
      {editing && (
        <OAuthAppDialog
          app={editing.app}
          scopes={scopes.data ?? []}
          onClose={() => setEditing(null)}
          onSaved={(saved) => {
            const clean = { ...saved, client_secret: undefined };
            if (editing.app) {
              list.update(
                (x) => x.id === saved.id,
                () => clean,
              );
              toast(`${saved.name} was saved.`);
            } else {
              list.prepend(clean);
              toast(`${saved.name} was created.`);
            }
          }}
        />
      )}
      {rotating && (
        <ConfirmDialog
          title={`Rotate the secret of ${rotating.name}?`}
          confirmLabel="Rotate secret"
          busyLabel="Rotating…"
          onClose={() => setRotating(null)}
          onConfirm={async () => {
            setSecret(await post<OAuthApp>(path`/api/v1/oauth/clients/${rotating.id}/secret`));
          }}
        >
          <p>The current secret stops working at once. Update the app’s configuration with the new one.</p>
        </ConfirmDialog>
      )}
      {secret?.client_secret && (
        <Dialog
          title={`New secret for ${secret.name}`}
          onClose={() => setSecret(null)}
          footer={
            <Button variant="primary" onClick={() => setSecret(null)}>
              I have copied it
            </Button>
          }
        >
          <SecretOnce label="Client secret" value={secret.client_secret} />
        </Dialog>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete app"
          busyLabel="Deleting…"
          typed={deleting.name}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await del(path`/api/v1/oauth/clients/${deleting.id}`);
            list.remove((x) => x.id === deleting.id);
            toast(`${deleting.name} was deleted.`);
          }}
        >
          <p>
            Every access and refresh token issued to it is revoked at once, and people who authorised it lose
            the connection.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
