import { useState } from 'react';
import { del, get, type Page, path } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, Loadable } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { usePaged } from '../hooks';
import { useSession } from '../session';
import type { Session } from '@latchkey/contract';

/** A short description of a browser from its user agent. */
function describe(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /curl\//.test(ua)
            ? 'curl'
            : 'Browser';
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Mac OS X/.test(ua)
      ? 'macOS'
      : /Android/.test(ua)
        ? 'Android'
        : /iPhone|iPad/.test(ua)
          ? 'iOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}

export function Sessions() {
  const { signOut } = useSession();
  const list = usePaged(() => get<Page<Session>>('/api/auth/sessions', { org: null }), []);
  const [revoking, setRevoking] = useState<Session | null>(null);
  const toast = useToast();
  return (
    <section className="section" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you are signed in</h2>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {list.items.length === 0 ? (
          <Empty title="No active sessions" />
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">IP address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((s) => (
                <tr key={s.id}>
                  <td data-label="Device">
                    <span title={s.user_agent ?? undefined}>{describe(s.user_agent)}</span>
                    {s.current && <span className="badge badge-success">this browser</span>}
                  </td>
                  <td data-label="IP address" className="mono">
                    {s.ip ?? '—'}
                  </td>
                  <td data-label="Signed in">
                    <Time iso={s.created_at} />
                  </td>
                  <td data-label="Last active">
                    <Time iso={s.last_seen_at} />
                  </td>
                  <td className="actions">
                    <Button
                      small
                      variant="danger"
                      onClick={() => setRevoking(s)}
                      aria-label={
                        s.current
                          ? 'Sign out of this browser'
                          : `Sign out ${describe(s.user_agent)} at ${s.ip ?? 'an unknown address'}`
                      }
                    >
                      {s.current ? 'Sign out' : 'Revoke'}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loadable>
      {revoking && (
        <ConfirmDialog
          title={revoking.current ? 'Sign out of this browser?' : 'Sign out that session?'}
          confirmLabel={revoking.current ? 'Sign out' : 'Revoke session'}
          busyLabel="Signing out…"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            if (revoking.current) return signOut();
            await del(path`/api/auth/sessions/${revoking.id}`, { org: null });
            list.remove((x) => x.id === revoking.id);
            toast('The session was signed out.');
          }}
        >
          <p>
            {revoking.current
              ? 'You will need to sign in again.'
              : `${describe(revoking.user_agent)} is signed out at once and must sign in again.`}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
