import { useState } from 'react';
import { del, get, type Page, patch, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { PageHeader } from '../components/PageHeader';
import { CopyField, SecretOnce } from '../components/Secret';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, useLoad, usePaged } from '../hooks';
import { useSession } from '../session';
import type { ProvisionedRole, ScimConnection, ScimGroup, ScimSecret } from '@latchkey/contract';

/** SCIM 2.0 provisioning: the endpoint and secret an identity provider uses, and group → role mapping. */
export function Scim() {
  const { org } = useSession();
  const conn = useLoad(() => get<ScimConnection>('/api/v1/org/scim'), [org?.id]);
  const [confirm, setConfirm] = useState<'issue' | 'remove' | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const toast = useToast();
  const c = conn.data;
  return (
    <>
      <PageHeader title="SCIM provisioning">
        Let your identity provider create, update and remove the people of {org?.name}.
      </PageHeader>
      <Loadable loading={conn.loading && !c} error={conn.error} retry={conn.reload}>
        {c && (
          <section className="section card" aria-labelledby="scim-connection">
            <h2 id="scim-connection">Connection</h2>
            <CopyField label="SCIM base URL" value={c.endpoint_url} />
            <dl className="facts">
              <dt>Secret</dt>
              <dd>
                {c.token_exists ? (
                  <>
                    <code>{c.token_prefix}…</code> made <Time iso={c.token_created_at} />
                  </>
                ) : (
                  <span className="muted">None: SCIM is off</span>
                )}
              </dd>
              <dt>Last sync</dt>
              <dd>
                {c.last_sync_at ? (
                  <>
                    <Time iso={c.last_sync_at} />{' '}
                    <span
                      className={`badge ${c.last_sync_result === 'success' ? 'badge-success' : 'badge-danger'}`}
                    >
                      {c.last_sync_result === 'success' ? 'succeeded' : 'failed'}
                      {c.last_sync_status ? ` (HTTP ${c.last_sync_status})` : ''}
                    </span>
                  </>
                ) : (
                  <span className="muted">Never</span>
                )}
              </dd>
            </dl>
            <div className="form-actions">
              <Button variant="primary" onClick={() => (c.token_exists ? setConfirm('issue') : void issue())}>
                {c.token_exists ? 'Rotate secret' : 'Turn on SCIM'}
              </Button>
              {c.token_exists && (
                <Button variant="danger" onClick={() => setConfirm('remove')}>
                  Turn off
                </Button>
              )}
            </div>
          </section>
        )}
      </Loadable>
      <Groups />
      {confirm === 'issue' && (
        <ConfirmDialog
          title="Rotate the SCIM secret?"
          confirmLabel="Rotate secret"
          busyLabel="Rotating…"
          onClose={() => setConfirm(null)}
          onConfirm={issue}
        >
          <p>The identity provider’s current secret stops working at once. Paste the new one into it.</p>
        </ConfirmDialog>
      )}
      {confirm === 'remove' && (
        <ConfirmDialog
          title="Turn SCIM off?"
          confirmLabel="Turn off"
          busyLabel="Turning off…"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await del('/api/v1/org/scim/token');
            conn.reload();
            toast('SCIM is off. People it made stay members.');
          }}
        >
          <p>
            The identity provider can no longer change members. People it provisioned keep their membership.
          </p>
        </ConfirmDialog>
      )}
      {secret && (
        <Dialog
          title="SCIM secret"
          onClose={() => setSecret(null)}
          footer={
            <Button variant="primary" onClick={() => setSecret(null)}>
              I have copied it
            </Button>
          }
        >
          <SecretOnce label="Bearer token" value={secret} />
        </Dialog>
      )}
    </>
  );

  async function issue() {
    const out = await post<ScimSecret>('/api/v1/org/scim/token');
    setSecret(out.token);
    conn.reload();
  }
}

function Groups() {
  const { org } = useSession();
  const list = usePaged(
    (cursor) => get<Page<ScimGroup>>('/api/v1/org/scim/groups', { query: { cursor } }),
    [org?.id],
  );
  return (
    <section className="section" aria-labelledby="scim-groups">
      <h2 id="scim-groups">Groups and roles</h2>
      <p className="muted">Members of a group pushed by the identity provider get the role you map it to.</p>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {list.items.length === 0 ? (
          <Empty title="No groups yet">Groups appear after the identity provider pushes them.</Empty>
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Members</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((g) => (
                <tr key={g.id}>
                  <td data-label="Group">
                    {g.display_name}
                    {g.external_id && <div className="muted small mono">{g.external_id}</div>}
                  </td>
                  <td data-label="Members">{g.members}</td>
                  <td data-label="Role">
                    <GroupRole
                      group={g}
                      onSaved={(next) =>
                        list.update(
                          (x) => x.id === g.id,
                          () => next,
                        )
                      }
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
      </Loadable>
      <Notice>
        <p>Owners are never set by SCIM; make owners on the Members page.</p>
      </Notice>
    </section>
  );
}

function GroupRole({ group, onSaved }: { group: ScimGroup; onSaved: (g: ScimGroup) => void }) {
  const toast = useToast();
  const action = useAction(async (role: ProvisionedRole | null) => {
    onSaved(await patch<ScimGroup>(path`/api/v1/org/scim/groups/${group.id}`, { role }));
    toast(`${group.display_name} now maps to ${role ?? 'no role'}.`);
  });
  const id = `group-${group.id}`;
  return (
    <div className="inline-field">
      <label htmlFor={id} className="sr-only">
        Role for {group.display_name}
      </label>
      <select
        id={id}
        value={group.role ?? ''}
        disabled={action.busy}
        onChange={(e) => void action.run((e.target.value || null) as ProvisionedRole | null)}
      >
        <option value="">No role</option>
        <option value="admin">admin</option>
        <option value="member">member</option>
        <option value="billing">billing</option>
      </select>
      <ErrorAlert error={action.error} />
    </div>
  );
}
