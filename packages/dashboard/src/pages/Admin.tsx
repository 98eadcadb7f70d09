import { type FormEvent, useId, useState } from 'react';
import { get, type Page, path, post, put } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Tabs } from '../components/Tabs';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, useLoad, usePaged } from '../hooks';
import { useSession } from '../session';
import type { SignupPolicy, SignupPolicySetting, WaitlistEntry, WaitlistStatus } from '@latchkey/contract';

const POLICIES: { id: SignupPolicy; label: string; about: string }[] = [
  { id: 'open', label: 'Open', about: 'Anyone may create an account.' },
  {
    id: 'waitlist',
    label: 'Waitlist',
    about: 'People ask to join; an instance admin approves each request.',
  },
  {
    id: 'invite-only',
    label: 'Invitation only',
    about: 'Only people invited to an organisation (or arriving by SSO) get an account.',
  },
];

/** Instance admins: who may create an account on this server, and the waitlist. */
export function Admin() {
  return (
    <>
      <PageHeader title="Sign-ups">Settings for the whole Latchkey server, for its operators.</PageHeader>
      <PolicyForm />
      <Waitlist />
    </>
  );
}

function PolicyForm() {
  const { me } = useSession();
  const who = (actor: string) =>
    actor === `user:${me.user?.id}`
      ? 'you'
      : actor === 'config'
        ? 'the configuration (SIGNUP_POLICY)'
        : actor;
  const current = useLoad(() => get<SignupPolicySetting>('/api/v1/admin/signup-policy', { org: null }), []);
  const [choice, setChoice] = useState<SignupPolicy | null>(null);
  const name = useId();
  const toast = useToast();
  const selected = choice ?? current.data?.policy ?? 'open';
  const action = useAction(async () => {
    const next = await put<SignupPolicySetting>(
      '/api/v1/admin/signup-policy',
      { policy: selected },
      { org: null },
    );
    current.set(() => next);
    setChoice(null);
    toast(`Sign-ups are now: ${POLICIES.find((p) => p.id === next.policy)?.label ?? next.policy}.`);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };
  return (
    <section className="section card" aria-labelledby="policy-heading">
      <h2 id="policy-heading">Who may sign up</h2>
      <Loadable loading={current.loading && !current.data} error={current.error} retry={current.reload}>
        <form onSubmit={submit}>
          <fieldset className="field">
            <legend className="sr-only">Sign-up policy</legend>
            {POLICIES.map((p) => (
              <label key={p.id} className="checkbox policy-option">
                <input
                  type="radio"
                  name={name}
                  checked={selected === p.id}
                  onChange={() => setChoice(p.id)}
                />
                <span>
                  <strong>{p.label}</strong>
                  <span className="muted small"> {p.about}</span>
                </span>
              </label>
            ))}
          </fieldset>
          {current.data?.updated_at && (
            <p className="muted small">
              Last changed <Time iso={current.data.updated_at} />
              {current.data.updated_by ? ` by ${who(current.data.updated_by)}` : ''}.
            </p>
          )}
          <ErrorAlert error={action.error} />
          <Button
            type="submit"
            variant="primary"
            busy={action.busy}
            disabled={selected === current.data?.policy}
          >
            {action.busy ? 'Saving…' : 'Save policy'}
          </Button>
        </form>
      </Loadable>
    </section>
  );
}

const STATUSES = [
  { id: 'pending', label: 'Pending' },
  { id: 'approved', label: 'Approved' },
  { id: 'denied', label: 'Denied' },
] as const;

function Waitlist() {
  const [status, setStatus] = useState<WaitlistStatus>('pending');
  const list = usePaged(
    (cursor) => get<Page<WaitlistEntry>>('/api/v1/admin/waitlist', { org: null, query: { status, cursor } }),
    [status],
  );
  return (
    <section className="section" aria-labelledby="waitlist-heading">
      <h2 id="waitlist-heading">Waitlist</h2>
      <Tabs
        tabs={STATUSES}
        current={status}
        onSelect={(id) => setStatus(id as WaitlistStatus)}
        label="Requests by status"
        idBase="waitlist"
      />
      <div id="waitlist-panel" role="tabpanel" aria-labelledby={`waitlist-${status}`}>
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {list.items.length === 0 ? (
            <Empty title={`No ${status} requests`}>
              {status === 'pending' ? 'Requests appear here while sign-ups use the waitlist.' : undefined}
            </Empty>
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">Person</th>
                  <th scope="col">Via</th>
                  <th scope="col">Asked</th>
                  <th scope="col">Decided</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((e) => (
                  <WaitlistRow
                    key={e.id}
                    entry={e}
                    onDecided={(next) =>
                      list.update(
                        (x) => x.id === e.id,
                        () => next,
                      )
                    }
                  />
                ))}
              </tbody>
            </table>
          )}
          <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
        </Loadable>
      </div>
    </section>
  );
}

function WaitlistRow({
  entry: e,
  onDecided,
}: {
  entry: WaitlistEntry;
  onDecided: (e: WaitlistEntry) => void;
}) {
  const toast = useToast();
  const decide = useAction(async (decision: 'approve' | 'deny') => {
    const next = await post<WaitlistEntry>(path`/api/v1/admin/waitlist/${e.id}/${decision}`, undefined, {
      org: null,
    });
    onDecided(next);
    toast(
      decision === 'approve'
        ? next.email_sent === false
          ? `Approved, but the email to ${e.email} failed; approve again to resend.`
          : `Approved: ${e.email} was sent a sign-up link.`
        : `${e.email} was denied.`,
    );
  });
  return (
    <tr>
      <td data-label="Person">
        {e.name ?? <span className="muted">No name</span>}
        <div className="muted small">{e.email}</div>
      </td>
      <td data-label="Via">{e.via.replace('_', ' ')}</td>
      <td data-label="Asked">
        <Time iso={e.created_at} />
      </td>
      <td data-label="Decided">
        {e.joined_at ? (
          <>
            joined <Time iso={e.joined_at} />
          </>
        ) : (
          <Time iso={e.decided_at} never="Not yet" />
        )}
      </td>
      <td className="actions">
        {!e.joined_at && e.status !== 'approved' && (
          <Button
            small
            variant="primary"
            busy={decide.busy}
            onClick={() => void decide.run('approve')}
            aria-label={`Approve ${e.email}`}
          >
            Approve
          </Button>
        )}
        {!e.joined_at && e.status === 'approved' && (
          <Button
            small
            busy={decide.busy}
            onClick={() => void decide.run('approve')}
            aria-label={`Send ${e.email} a new link`}
          >
            Resend link
          </Button>
        )}
        {!e.joined_at && e.status !== 'denied' && (
          <Button
            small
            variant="danger"
            disabled={decide.busy}
            onClick={() => void decide.run('deny')}
            aria-label={`Deny ${e.email}`}
          >
            Deny
          </Button>
        )}
        <ErrorAlert error={decide.error} />
      </td>
    </tr>
  );
}
