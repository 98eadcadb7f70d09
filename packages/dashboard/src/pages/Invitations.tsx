import { type FormEvent, useState } from 'react';
import { del, get, type Page, path, post } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { SelectField, TextField } from '../components/Field';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, usePaged } from '../hooks';
import { mayGrant, ROLE_TEXT } from '../permissions';
import { useSession } from '../session';
import { type Invitation, ROLES, type Role } from '@latchkey/contract';

export function InviteForm({ myRole, onInvited }: { myRole: Role | undefined; onInvited: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const toast = useToast();
  const action = useAction(async () => {
    const inv = await post<Invitation>('/api/v1/org/invitations', { email: email.trim(), role });
    toast(
      inv.email_sent === false
        ? `Invitation for ${inv.email} created, but the email could not be sent. Try resending.`
        : `Invitation sent to ${inv.email}.`,
    );
    setEmail('');
    onInvited();
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };
  return (
    <section aria-labelledby="invite-heading" className="section card">
      <h2 id="invite-heading">Invite someone</h2>
      <form className="inline-form" onSubmit={submit}>
        <TextField
          label="Email"
          type="email"
          required
          maxLength={254}
          autoComplete="off"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <SelectField
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value as Role)}
          hint={ROLE_TEXT[role]}
        >
          {ROLES.filter((r) => mayGrant(myRole, r)).map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={action.busy}>
            {action.busy ? 'Sending…' : 'Send invitation'}
          </Button>
        </div>
      </form>
      <ErrorAlert error={action.error} />
    </section>
  );
}

export function Invitations({ myRole }: { myRole: Role | undefined }) {
  const { org } = useSession();
  const list = usePaged(
    (cursor) => get<Page<Invitation>>('/api/v1/org/invitations', { query: { cursor } }),
    [org?.id],
  );
  const [cancelling, setCancelling] = useState<Invitation | null>(null);
  const toast = useToast();
  return (
    <section aria-labelledby="invitations-heading" className="section">
      <h2 id="invitations-heading">Pending invitations</h2>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {list.items.length === 0 ? (
          <Empty title="No pending invitations">
            Invitations you send appear here until they are accepted or expire (after 7 days).
          </Empty>
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Sent</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((inv) => (
                <tr key={inv.id}>
                  <td data-label="Email">{inv.email}</td>
                  <td data-label="Role">
                    <span className={`role role-${inv.role}`}>{inv.role}</span>
                  </td>
                  <td data-label="Sent">
                    <Time iso={inv.created_at} />
                  </td>
                  <td data-label="Expires">
                    <Time iso={inv.expires_at} />
                  </td>
                  <td className="actions">
                    {mayGrant(myRole, inv.role) && (
                      <>
                        <Resend
                          invitation={inv}
                          onDone={(fresh) =>
                            list.update(
                              (x) => x.id === inv.id,
                              () => ({ ...inv, ...fresh }),
                            )
                          }
                        />
                        <Button
                          small
                          variant="danger"
                          onClick={() => setCancelling(inv)}
                          aria-label={`Cancel the invitation for ${inv.email}`}
                        >
                          Cancel
                        </Button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
      </Loadable>
      {cancelling && (
        <ConfirmDialog
          title="Cancel this invitation?"
          confirmLabel="Cancel invitation"
          busyLabel="Cancelling…"
          onClose={() => setCancelling(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/invitations/${cancelling.id}`);
            list.remove((x) => x.id === cancelling.id);
            toast(`The invitation for ${cancelling.email} was cancelled.`);
          }}
        >
          <p>The link sent to {cancelling.email} stops working. You can invite them again later.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Resend({ invitation, onDone }: { invitation: Invitation; onDone: (fresh: Invitation) => void }) {
  const toast = useToast();
  const action = useAction(async () => {
    const fresh = await post<Invitation>(path`/api/v1/org/invitations/${invitation.id}/resend`);
    onDone(fresh);
    toast(`Invitation sent again to ${invitation.email}. The earlier link no longer works.`);
  });
  return (
    <>
      <Button
        small
        onClick={() => void action.run()}
        busy={action.busy}
        aria-label={`Resend the invitation to ${invitation.email}`}
      >
        {action.busy ? 'Sending…' : 'Resend'}
      </Button>
      <ErrorAlert error={action.error} />
    </>
  );
}
