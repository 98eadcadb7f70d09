import { type FormEvent, useState } from 'react';
import { del, get, type Page, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, useLoad, usePaged } from '../hooks';
import { useSession } from '../session';
import type { AdminPasswordReset, AdminUserDetail, AdminUserSummary } from '@latchkey/contract';
import '../styles/admin-users.css';

/** A second factor of the account shown, as the drawer lists it. */
interface FactorRow {
  key: string;
  label: string;
  /** The factor in a sentence. */
  what: string;
  url: string;
}

function factorRows(u: AdminUserDetail): FactorRow[] {
  const base = path`/api/v1/admin/users/${u.id}/factors`;
  const rows: FactorRow[] = [];
  if (u.factors.totp)
    rows.push({
      key: 'totp',
      label: 'Authenticator app',
      what: 'the authenticator app',
      url: `${base}/totp`,
    });
  for (const k of u.passkeys)
    rows.push({
      key: k.id,
      label: `Passkey “${k.name}”`,
      what: `the passkey “${k.name}”`,
      url: path`/api/v1/admin/users/${u.id}/factors/passkeys/${k.id}`,
    });
  if (u.factors.recovery_codes)
    rows.push({
      key: 'recovery-codes',
      label: `${u.factors.recovery_codes} recovery code${u.factors.recovery_codes === 1 ? '' : 's'} left`,
      what: 'the recovery codes',
      url: `${base}/recovery-codes`,
    });
  return rows;
}

/** Instance admins: every account on this server; search, look at one, disable, reset, delete. */
export function AdminUsers() {
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const list = usePaged(
    (cursor) => get<Page<AdminUserSummary>>('/api/v1/admin/users', { org: null, query: { q, cursor } }),
    [q],
  );
  const search = (e: FormEvent) => {
    e.preventDefault();
    setQ(draft.trim());
  };
  return (
    <>
      <PageHeader title="Users">Every account on this Latchkey server.</PageHeader>
      <form className="section search-form" role="search" onSubmit={search}>
        <TextField
          label="Search by email or name"
          type="search"
          maxLength={100}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        <Button type="submit">Search</Button>
      </form>
      <section className="section" aria-label="Accounts">
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {list.items.length === 0 ? (
            <Empty title={q ? `No account matches “${q}”` : 'No accounts yet'} />
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">Person</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last sign-in</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((u) => (
                  <tr key={u.id}>
                    <td data-label="Person">
                      {u.name}
                      {u.instance_admin && <span className="badge">admin</span>}
                      <div className="muted small">{u.email}</div>
                    </td>
                    <td data-label="Status">
                      {u.disabled_at ? (
                        <span className="badge badge-danger">Disabled</span>
                      ) : u.email_verified ? (
                        'Active'
                      ) : (
                        <span className="muted">Address not proven</span>
                      )}
                    </td>
                    <td data-label="Last sign-in">
                      <Time iso={u.last_sign_in_at} never="Never" />
                    </td>
                    <td data-label="Created">
                      <Time iso={u.created_at} />
                    </td>
                    <td className="actions">
                      <Button small onClick={() => setOpen(u.id)} aria-label={`Open ${u.email}`}>
                        Open
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
        </Loadable>
      </section>
      {open && (
        <UserDrawer
          id={open}
          onClose={() => setOpen(null)}
          onChanged={(u) =>
            list.update(
              (x) => x.id === u.id,
              () => u,
            )
          }
          onDeleted={(id) => {
            list.remove((x) => x.id === id);
            setOpen(null);
          }}
        />
      )}
    </>
  );
}

function UserDrawer({
  id,
  onClose,
  onChanged,
  onDeleted,
}: {
  id: string;
  onClose: () => void;
  onChanged: (u: AdminUserDetail) => void;
  onDeleted: (id: string) => void;
}) {
  const { me } = useSession();
  const toast = useToast();
  const user = useLoad(() => get<AdminUserDetail>(path`/api/v1/admin/users/${id}`, { org: null }), [id]);
  const [confirm, setConfirm] = useState<'delete' | 'reset' | null>(null);
  const [removing, setRemoving] = useState<FactorRow | null>(null);
  const toggle = useAction(async (to: 'disable' | 'enable') => {
    const next = await post<AdminUserDetail>(path`/api/v1/admin/users/${id}/${to}`, undefined, { org: null });
    user.set(() => next);
    onChanged(next);
    toast(
      to === 'disable' ? `${next.email} is disabled and signed out everywhere.` : `${next.email} is enabled.`,
    );
  });
  const u = user.data;
  const self = u?.id === me.user?.id;
  return (
    <Dialog title={u ? u.name : 'Account'} onClose={onClose} drawer locked={toggle.busy}>
      <Loadable loading={user.loading && !u} error={user.error} retry={user.reload}>
        {u && (
          <>
            <p className="muted">{u.email}</p>
            {u.disabled_at && (
              <Notice tone="warning">
                <p>
                  Disabled <Time iso={u.disabled_at} />: every sign-in and token of this account is refused.
                </p>
              </Notice>
            )}
            <dl className="facts">
              <dt>Created</dt>
              <dd>
                <Time iso={u.created_at} absolute />
              </dd>
              <dt>Last sign-in</dt>
              <dd>
                <Time iso={u.last_sign_in_at} never="Never" />
              </dd>
              <dt>Address</dt>
              <dd>{u.email_verified ? 'Proven' : 'Not proven yet'}</dd>
              <dt>Sign-in</dt>
              <dd>
                {[u.has_password ? 'password' : null, ...u.identities.map((i) => i.provider)]
                  .filter(Boolean)
                  .join(', ') || 'email link only'}
              </dd>
              <dt>Second factors</dt>
              <dd>
                {factorRows(u)
                  .map((f) => f.label)
                  .join(', ') || 'None'}
              </dd>
            </dl>
            {!self && factorRows(u).length > 0 && (
              <>
                <h3>Remove a second factor</h3>
                <ul className="plain-list user-facts-list">
                  {factorRows(u).map((f) => (
                    <li key={f.key} className="factor-row">
                      <span>{f.label}</span>
                      <Button
                        small
                        variant="danger"
                        onClick={() => setRemoving(f)}
                        aria-label={`Remove ${f.label}`}
                      >
                        Remove
                      </Button>
                    </li>
                  ))}
                </ul>
              </>
            )}
            <h3>Organisations</h3>
            {u.orgs.length === 0 ? (
              <p className="muted">None.</p>
            ) : (
              <ul className="plain-list user-facts-list">
                {u.orgs.map((o) => (
                  <li key={o.id}>
                    {o.name}{' '}
                    <span className="muted small">
                      ({o.slug}, {o.role})
                    </span>
                  </li>
                ))}
              </ul>
            )}
            <h3>Sessions</h3>
            {u.sessions.length === 0 ? (
              <p className="muted">Not signed in anywhere.</p>
            ) : (
              <ul className="plain-list user-facts-list">
                {u.sessions.map((s) => (
                  <li key={s.id}>
                    {s.ip ?? 'unknown address'} · <Time iso={s.last_seen_at} />
                  </li>
                ))}
              </ul>
            )}
            <ErrorAlert error={toggle.error} />
            {self ? (
              <p className="muted small">This is your own account: manage it from Account.</p>
            ) : (
              <div className="page-actions">
                {u.disabled_at ? (
                  <Button busy={toggle.busy} onClick={() => void toggle.run('enable')}>
                    Enable
                  </Button>
                ) : (
                  <Button variant="danger" busy={toggle.busy} onClick={() => void toggle.run('disable')}>
                    Disable
                  </Button>
                )}
                <Button onClick={() => setConfirm('reset')}>Force password reset…</Button>
                <Button variant="danger" onClick={() => setConfirm('delete')}>
                  Delete…
                </Button>
              </div>
            )}
          </>
        )}
      </Loadable>
      {u && confirm === 'reset' && (
        <ConfirmDialog
          title={`Force ${u.email} to reset their password?`}
          confirmLabel="Force reset"
          busyLabel="Resetting…"
          danger={false}
          onConfirm={async () => {
            const out = await post<AdminPasswordReset>(
              path`/api/v1/admin/users/${u.id}/password-reset`,
              undefined,
              { org: null },
            );
            toast(
              out.email_sent
                ? `${u.email} was signed out and sent a reset link.`
                : `${u.email} was signed out, but the email failed.`,
            );
            user.reload();
          }}
          onClose={() => setConfirm(null)}
        >
          <p>
            Their password stops working, every session and personal token ends, and they are mailed a reset
            link.
          </p>
        </ConfirmDialog>
      )}
      {u && removing && (
        <ConfirmDialog
          title={`Remove ${removing.what} from ${u.email}?`}
          confirmLabel="Remove"
          busyLabel="Removing…"
          onConfirm={async () => {
            const next = await del<AdminUserDetail>(removing.url, { org: null });
            user.set(() => next);
            onChanged(next);
            toast(`${removing.label} removed from ${u.email}; they were mailed a notice.`);
          }}
          onClose={() => setRemoving(null)}
        >
          <p>
            Use this for a person who lost their device. Their sessions stay signed in; if an organisation of
            theirs requires a second factor, they set up a new one at their next sign-in.
          </p>
        </ConfirmDialog>
      )}
      {u && confirm === 'delete' && (
        <ConfirmDialog
          title={`Delete ${u.email}?`}
          confirmLabel="Delete account"
          busyLabel="Deleting…"
          typed={u.email}
          onConfirm={async () => {
            await del(path`/api/v1/admin/users/${u.id}`, { org: null });
            toast(`${u.email} was deleted.`);
            onDeleted(u.id);
          }}
          onClose={() => setConfirm(null)}
        >
          <p>
            Every credential of the account ends at once, and organisations where it is the only member are
            deleted. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </Dialog>
  );
}
