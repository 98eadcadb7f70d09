import { get, type Page } from '../api';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { usePaged } from '../hooks';
import type { ActivityEvent } from '@latchkey/contract';

const METHODS: Record<string, string> = {
  password: 'password',
  password_change: 'a password change',
  magic_link: 'an email link',
  github: 'GitHub',
  google: 'Google',
  sso: 'single sign-on',
  passkey: 'a passkey',
  totp: 'the authenticator app',
  recovery_code: 'a recovery code',
  enrolment: 'a new authenticator app',
};

/** What happened, in words; the action code for anything not named here. */
function describe(e: ActivityEvent): string {
  const method =
    typeof e.details.method === 'string' ? (METHODS[e.details.method] ?? e.details.method) : null;
  const org = e.org?.name ?? 'an organisation';
  switch (e.action) {
    case 'user.signup':
      return 'Account created';
    case 'user.signin':
      if (e.details.method === 'second_factor' && typeof e.details.second_factor === 'string')
        return `Signed in, second factor: ${METHODS[e.details.second_factor] ?? e.details.second_factor}`;
      return method ? `Signed in with ${method}` : 'Signed in';
    case 'user.signin_pending':
      return method ? `Signed in with ${method}; second factor asked for` : 'Second factor asked for';
    case 'user.second_factor_failed':
      return method ? `Wrong second factor (${method})` : 'Wrong second factor';
    case 'user.totp_enabled':
      return 'Authenticator app turned on';
    case 'user.totp_disabled':
      return 'Authenticator app turned off';
    case 'user.recovery_codes_regenerated':
      return 'New recovery codes generated';
    case 'user.passkey_added':
      return typeof e.details.name === 'string' ? `Passkey “${e.details.name}” added` : 'Passkey added';
    case 'user.passkey_removed':
      return 'Passkey removed';
    case 'user.new_device_signin':
      return method ? `Signed in from a new browser with ${method}` : 'Signed in from a new browser';
    case 'user.signin_failed':
      return method ? `Failed sign-in with ${method}` : 'Failed sign-in';
    case 'user.signout':
      return 'Signed out';
    case 'session.revoked':
      return 'A session was ended';
    case 'user.password_changed':
      return 'Password changed';
    case 'user.email_verified':
      return 'Email address verified';
    case 'user.updated':
      return 'Profile updated';
    case 'token.created':
      return `Token ${String(e.details.prefix ?? '')} created`.replace('  ', ' ');
    case 'token.revoked':
      return `Token ${String(e.details.prefix ?? '')} revoked`.replace('  ', ' ');
    case 'token.rotated':
      return `Token ${String(e.details.replaces ?? '')} rotated`.replace('  ', ' ');
    case 'invitation.accepted':
      return `Joined ${org} by invitation`;
    case 'member.added':
      return `Added to ${org}`;
    case 'member.role_changed':
      return `Role in ${org} changed${typeof e.details.to === 'string' ? ` to ${e.details.to}` : ''}`;
    case 'member.removed':
      return `Removed from ${org}`;
    case 'member.left':
      return `Left ${org}`;
    case 'scim.user_linked':
      return `Linked to ${org} by SCIM provisioning`;
    case 'sso.identity_linked':
      return `Linked to ${org}'s single sign-on`;
    case 'identity.linked':
      return method ? `${method} sign-in linked` : 'Sign-in method linked';
    case 'identity.unlinked':
      return method ? `${method} sign-in unlinked` : 'Sign-in method unlinked';
    case 'setup.completed':
      return 'Became an instance admin';
    default:
      return e.action;
  }
}

function who(e: ActivityEvent): string {
  switch (e.actor.kind) {
    case 'you':
      return 'You';
    case 'person':
      return e.actor.name ?? 'Another person';
    case 'credential':
      return e.actor.name ? `A ${e.actor.name} credential` : 'A credential';
    case 'anonymous':
      return 'Someone not signed in';
    default:
      return 'Latchkey';
  }
}

/** Account → Activity: what happened to this account, newest first. */
export function Activity() {
  const list = usePaged(
    (cursor) =>
      get<Page<ActivityEvent>>(
        `/api/v1/me/activity?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        {
          org: null,
        },
      ),
    [],
  );
  return (
    <>
      <PageHeader title="Your activity">
        Sign-ins, failed sign-ins, tokens, password changes and the organisations you joined. Something you do
        not recognise? Change your password and end your sessions on the Account page.
      </PageHeader>
      <section className="section" aria-labelledby="activity-heading">
        <h2 id="activity-heading" className="sr-only">
          Events
        </h2>
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {list.items.length === 0 ? (
            <Empty title="No activity yet" />
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">By</th>
                  <th scope="col">From</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((e) => (
                  <tr key={e.id} data-action={e.action}>
                    <td data-label="When">
                      <Time iso={e.created_at} />
                    </td>
                    <td data-label="What">{describe(e)}</td>
                    <td data-label="By">{who(e)}</td>
                    <td data-label="From">
                      {e.device ?? 'Unknown device'}
                      {e.ip ? <span className="mono muted"> · {e.ip}</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <LoadMore
            hasMore={list.hasMore}
            busy={list.loadingMore}
            onClick={list.loadMore}
            error={list.items.length ? list.error : null}
          />
        </Loadable>
      </section>
    </>
  );
}
