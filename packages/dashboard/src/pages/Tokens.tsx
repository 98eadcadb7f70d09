import { useState } from 'react';
import { del, get, type Page, path, post } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Tabs } from '../components/Tabs';
import { Time } from '../components/Time';
import { UsageChart } from '../components/UsageChart';
import { useToast } from '../components/Toast';
import { createdBy } from '../format';
import { usePaged } from '../hooks';
import { setQuery, useLocation } from '../router';
import { useSession } from '../session';
import { type ApiToken, ORG_KEY_SCOPES, PAT_SCOPES } from '@latchkey/contract';
import { MintTokenDialog, TokenShownOnce } from './MintTokenDialog';

export interface TokenKind {
  id: 'personal' | 'service' | 'org';
  label: string;
  noun: string;
  about: string;
  list(cursor: string | null): Promise<Page<ApiToken>>;
  mintPath: string;
  mintBody: Record<string, unknown>;
  revokePath(id: string): string;
  /** A new secret for the same token (name, scopes, expiry); the old one is revoked. */
  rotatePath(id: string): string;
  scopes: readonly string[];
}

const KINDS: Record<TokenKind['id'], TokenKind> = {
  personal: {
    id: 'personal',
    label: 'Personal tokens',
    noun: 'personal token',
    about: 'Act as you, in any of your organisations (name the org with x-org-id). For scripts and the CLI.',
    list: (cursor) => get('/api/v1/tokens', { query: { type: 'pat', cursor } }),
    mintPath: '/api/v1/tokens',
    mintBody: { type: 'pat' },
    revokePath: (id) => path`/api/v1/tokens/${id}`,
    rotatePath: (id) => path`/api/v1/tokens/${id}/rotate`,
    scopes: PAT_SCOPES,
  },
  service: {
    id: 'service',
    label: 'Service tokens',
    noun: 'service token',
    about: 'Bound to this organisation, not to a person: they keep working when people leave.',
    list: (cursor) => get('/api/v1/tokens', { query: { type: 'svc', cursor } }),
    mintPath: '/api/v1/tokens',
    mintBody: { type: 'svc' },
    revokePath: (id) => path`/api/v1/tokens/${id}`,
    rotatePath: (id) => path`/api/v1/tokens/${id}/rotate`,
    scopes: ORG_KEY_SCOPES,
  },
  org: {
    id: 'org',
    label: 'Org API keys',
    noun: 'org API key',
    about: 'Admin access to this organisation’s API, optionally narrowed to some scopes.',
    list: (cursor) => get('/api/v1/org/tokens', { query: { cursor } }),
    mintPath: '/api/v1/org/tokens',
    mintBody: {},
    revokePath: (id) => path`/api/v1/org/tokens/${id}`,
    rotatePath: (id) => path`/api/v1/org/tokens/${id}/rotate`,
    scopes: ORG_KEY_SCOPES,
  },
};

export function Tokens() {
  const { can, org } = useSession();
  const { query } = useLocation();
  const tabs = [KINDS.personal, ...(org && can('tokens:manage') ? [KINDS.service, KINDS.org] : [])];
  const current = tabs.find((t) => t.id === query.get('tab')) ?? tabs[0]!;
  return (
    <>
      <PageHeader title="API tokens">
        Credentials for scripts, servers and the CLI. Each is shown once, when it is made.
      </PageHeader>
      {tabs.length > 1 && (
        <Tabs
          tabs={tabs}
          current={current.id}
          onSelect={(id) => setQuery({ tab: id }, { replace: true })}
          label="Kinds of token"
          idBase="tokens"
        />
      )}
      <div
        id="tokens-panel"
        role={tabs.length > 1 ? 'tabpanel' : undefined}
        aria-labelledby={tabs.length > 1 ? `tokens-${current.id}` : undefined}
      >
        <TokenPanel key={current.id} kind={current} />
      </div>
    </>
  );
}

function TokenPanel({ kind }: { kind: TokenKind }) {
  const { org } = useSession();
  const list = usePaged((cursor) => kind.list(cursor), [kind.id, org?.id]);
  const [minting, setMinting] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [rotating, setRotating] = useState<ApiToken | null>(null);
  const [rotated, setRotated] = useState<ApiToken | null>(null);
  const toast = useToast();
  const now = Date.now();
  return (
    <section className="section" aria-labelledby="token-list-heading">
      <div className="section-header">
        <div>
          <h2 id="token-list-heading">{kind.label}</h2>
          <p className="muted">{kind.about}</p>
        </div>
        <Button variant="primary" onClick={() => setMinting(true)}>
          New {kind.noun}
        </Button>
      </div>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {list.items.length === 0 ? (
          <Empty title={`No ${kind.noun}s`}>Make one with “New {kind.noun}”. Its secret is shown once.</Empty>
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Created by</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                {kind.id === 'org' && <th scope="col">Requests a day</th>}
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((t) => {
                const expired = t.expires_at !== null && new Date(t.expires_at).getTime() <= now;
                return (
                  <tr key={t.id}>
                    <td data-label="Name">
                      {t.name ?? <span className="muted">Unnamed</span>}
                      <div className="muted small scopes-line" title={t.scopes.join(' ')}>
                        {t.scopes.length} {t.scopes.length === 1 ? 'scope' : 'scopes'}
                      </div>
                    </td>
                    <td data-label="Token">
                      <code>{t.prefix}…</code>
                    </td>
                    <td data-label="Created by">{createdBy(t.created_by)}</td>
                    <td data-label="Created">
                      <Time iso={t.created_at} />
                    </td>
                    <td data-label="Last used">
                      <Time iso={t.last_used_at} never="Never" />
                    </td>
                    {kind.id === 'org' && (
                      <td data-label="Requests a day">
                        <UsageChart tokenId={t.id} label={t.name ?? t.prefix} />
                      </td>
                    )}
                    <td data-label="Expires">
                      {expired ? (
                        <span className="badge badge-danger">Expired</span>
                      ) : (
                        <Time iso={t.expires_at} never="Never" />
                      )}
                    </td>
                    <td className="actions">
                      {!expired && (
                        <Button
                          small
                          onClick={() => setRotating(t)}
                          aria-label={`Rotate ${t.name ?? t.prefix}`}
                        >
                          Rotate
                        </Button>
                      )}
                      <Button
                        small
                        variant="danger"
                        onClick={() => setRevoking(t)}
                        aria-label={`Revoke ${t.name ?? t.prefix}`}
                      >
                        Revoke
                      </Button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
      </Loadable>
      {minting && (
        <MintTokenDialog
          kind={kind}
          onClose={() => setMinting(false)}
          onMinted={(t) => list.prepend({ ...t, token: undefined })}
        />
      )}
      {rotating && (
        <ConfirmDialog
          title={`Rotate ${rotating.name ?? rotating.prefix}?`}
          confirmLabel="Rotate"
          busyLabel="Rotating…"
          onClose={() => setRotating(null)}
          onConfirm={async () => {
            const fresh = await post<ApiToken>(kind.rotatePath(rotating.id));
            list.remove((x) => x.id === rotating.id);
            list.prepend({ ...fresh, token: undefined });
            setRotated(fresh);
          }}
        >
          <p>
            A new secret replaces <code>{rotating.prefix}…</code>, with the same name, scopes and expiry. The
            old secret, and any token made with it, is refused from now on, on every server.
          </p>
        </ConfirmDialog>
      )}
      {rotated && <TokenShownOnce kind={kind} token={rotated} onClose={() => setRotated(null)} />}
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name ?? revoking.prefix}?`}
          confirmLabel="Revoke"
          busyLabel="Revoking…"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await del(kind.revokePath(revoking.id));
            list.remove((x) => x.id === revoking.id);
            toast(`${revoking.name ?? revoking.prefix} was revoked.`);
          }}
        >
          <p>
            Anything using <code>{revoking.prefix}…</code> is refused from now on, on every server. This
            cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
