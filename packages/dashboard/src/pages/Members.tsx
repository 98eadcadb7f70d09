import { useState } from 'react';
import { del, get, type Page, patch, path } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, usePaged } from '../hooks';
import { mayGrant } from '../permissions';
import { useSession } from '../session';
import { type Member, ROLES, type Role } from '@latchkey/contract';
import { InviteForm, Invitations } from './Invitations';

export function Members() {
  const { org, me, refresh, can } = useSession();
  const myRole = org?.role;
  const manage = can('members:manage');
  const invite = can('invitations:manage');
  const members = usePaged(
    (cursor) => get<Page<Member>>('/api/v1/org/members', { query: { cursor, limit: 100 } }),
    [org?.id],
  );
  const [removing, setRemoving] = useState<Member | null>(null);
  const [invitesVersion, setInvitesVersion] = useState(0);
  const toast = useToast();

  const leaving = removing?.user_id === me.user?.id;
  // The last owner can neither leave nor be removed; the server refuses it, so do not offer it.
  const soleOwner = members.items.filter((m) => m.role === 'owner').length <= 1;
  return (
    <>
      <PageHeader title="Members">People in {org?.name} and what their role lets them do.</PageHeader>
      {invite && <InviteForm myRole={myRole} onInvited={() => setInvitesVersion((v) => v + 1)} />}
      <section aria-labelledby="members-heading" className="section">
        <h2 id="members-heading">People</h2>
        <Loadable loading={members.loading} error={members.error} retry={members.reload}>
          {members.items.length === 0 ? (
            <Empty title="No members yet">Invite someone to get started.</Empty>
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Joined</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {members.items.map((m) => {
                  const self = m.user_id === me.user?.id;
                  const mayChange = manage && mayGrant(myRole, m.role) && !self;
                  const mayRemove = manage && (m.role !== 'owner' || myRole === 'owner') && !self;
                  return (
                    <tr key={m.user_id}>
                      <td data-label="Name">
                        {m.name}
                        {self && <span className="badge">you</span>}
                      </td>
                      <td data-label="Email">{m.email}</td>
                      <td data-label="Role">
                        {mayChange ? (
                          <RoleSelect
                            member={m}
                            myRole={myRole}
                            onChanged={(role) => {
                              members.update(
                                (x) => x.user_id === m.user_id,
                                (x) => ({ ...x, role }),
                              );
                              toast(`${m.name} is now ${role}.`);
                            }}
                          />
                        ) : (
                          <span className={`role role-${m.role}`}>{m.role}</span>
                        )}
                      </td>
                      <td data-label="Joined">
                        <Time iso={m.joined_at} />
                      </td>
                      <td className="actions">
                        {(mayRemove || (self && !(m.role === 'owner' && soleOwner))) && (
                          <Button
                            small
                            variant="danger"
                            onClick={() => setRemoving(m)}
                            aria-label={self ? 'Leave the organisation' : `Remove ${m.name}`}
                          >
                            {self ? 'Leave' : 'Remove'}
                          </Button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          <LoadMore
            hasMore={members.hasMore}
            busy={members.loadingMore}
            onClick={members.loadMore}
            error={members.items.length ? members.error : null}
          />
        </Loadable>
      </section>
      {invite && <Invitations key={invitesVersion} myRole={myRole} />}
      {removing && (
        <ConfirmDialog
          title={leaving ? `Leave ${org?.name}?` : `Remove ${removing.name}?`}
          confirmLabel={leaving ? 'Leave organisation' : 'Remove member'}
          busyLabel={leaving ? 'Leaving…' : 'Removing…'}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/members/${removing.user_id}`);
            if (leaving) {
              await refresh();
              return;
            }
            members.remove((x) => x.user_id === removing.user_id);
            toast(`${removing.name} was removed.`);
          }}
        >
          <p>
            {leaving
              ? 'You will lose access to this organisation and its keys until someone invites you again.'
              : `${removing.name} (${removing.email}) loses access to ${org?.name} at once. Their personal tokens stop working here.`}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function RoleSelect({
  member,
  myRole,
  onChanged,
}: {
  member: Member;
  myRole: Role | undefined;
  onChanged: (role: Role) => void;
}) {
  const action = useAction(async (role: Role) => {
    await patch(path`/api/v1/org/members/${member.user_id}`, { role });
    onChanged(role);
  });
  const id = `role-${member.user_id}`;
  return (
    <div className="inline-field">
      <label htmlFor={id} className="sr-only">
        Role for {member.name}
      </label>
      <select
        id={id}
        value={member.role}
        disabled={action.busy}
        aria-busy={action.busy || undefined}
        onChange={(e) => void action.run(e.target.value as Role)}
      >
        {ROLES.filter((r) => mayGrant(myRole, r) || r === member.role).map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      {action.busy && <span className="spinner" role="status" aria-label="Saving" />}
      <ErrorAlert error={action.error} />
    </div>
  );
}
