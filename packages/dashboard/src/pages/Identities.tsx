import { useState } from 'react';
import { del, get, path } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Empty, Loadable } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useLoad } from '../hooks';
import type { Identity, IdentityList } from '@latchkey/contract';

const NAMES: Record<string, string> = { github: 'GitHub', google: 'Google' };

/**
 * GitHub and Google accounts that sign this person in, with unlink. (Linking starts from
 * `POST /api/auth/oauth/{provider}/link`, but nothing public says which providers this server has
 * set up, so no button is offered that might lead nowhere.)
 */
export function Identities() {
  const list = useLoad(() => get<IdentityList>('/api/v1/me/identities', { org: null }), []);
  const [unlinking, setUnlinking] = useState<Identity | null>(null);
  const toast = useToast();
  return (
    <section className="section" aria-labelledby="identities-heading">
      <h2 id="identities-heading">Linked accounts</h2>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {(list.data?.data.length ?? 0) === 0 ? (
          <Empty title="No linked accounts">GitHub and Google accounts you sign in with appear here.</Empty>
        ) : (
          <ul className="plain-list">
            {list.data?.data.map((i) => (
              <li key={i.id} className="list-row">
                <span>
                  <strong>{NAMES[i.provider] ?? i.provider}</strong>{' '}
                  {i.email && <span className="muted">{i.email}</span>}{' '}
                  <span className="muted small">
                    linked <Time iso={i.created_at} />
                  </span>
                </span>
                <Button
                  small
                  variant="danger"
                  onClick={() => setUnlinking(i)}
                  aria-label={`Unlink ${NAMES[i.provider] ?? i.provider}`}
                >
                  Unlink
                </Button>
              </li>
            ))}
          </ul>
        )}
      </Loadable>
      {unlinking && (
        <ConfirmDialog
          title={`Unlink ${NAMES[unlinking.provider] ?? unlinking.provider}?`}
          confirmLabel="Unlink"
          busyLabel="Unlinking…"
          onClose={() => setUnlinking(null)}
          onConfirm={async () => {
            await del(path`/api/v1/me/identities/${unlinking.id}`, { org: null });
            list.set((d) => d && { ...d, data: d.data.filter((x) => x.id !== unlinking.id) });
            toast('The account was unlinked.');
          }}
        >
          <p>You will no longer sign in with it. Your other ways to sign in are kept.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
