import { useState } from 'react';
import { del, get, type Page, path, post } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, usePaged } from '../hooks';
import { Link } from '../router';
import { useSession } from '../session';
import type { Agent, AgentClaimStatus, AgentRestrictions } from '@latchkey/contract';

const STATUS: Record<AgentClaimStatus, { label: string; badge: string }> = {
  unclaimed: { label: 'Waiting for approval', badge: 'badge-warning' },
  claimed: { label: 'Approved', badge: 'badge-success' },
  denied: { label: 'Denied', badge: 'badge-danger' },
  revoked: { label: 'Revoked', badge: 'badge-danger' },
};

const GROUPS: { title: string; statuses: AgentClaimStatus[]; empty: string }[] = [
  {
    title: 'Waiting for approval',
    statuses: ['unclaimed'],
    empty: 'No agent is waiting. An agent that signs up names a person, who gets a code by email.',
  },
  { title: 'Approved agents', statuses: ['claimed'], empty: 'No approved agents in this organisation.' },
  { title: 'Denied and revoked', statuses: ['denied', 'revoked'], empty: 'None.' },
];

function limit(n: number): string {
  return n < 0 ? 'unlimited' : n.toLocaleString();
}

/** `guard_runs_per_month` → `guard runs`. */
const limitLabel = (name: string) => name.replace(/_per_(day|month)$/, '').replace(/_/g, ' ');

/** Every limit of the agent's plan, in words: "200 mcp calls a day, 50 guard runs a month". */
function limitsText(r: AgentRestrictions): string {
  return Object.entries(r.limits)
    .map(([name, l]) => `${limit(l.limit)} ${limitLabel(name)} a ${l.period}`)
    .join(', ');
}

type Scope = 'mine' | 'org';

/**
 * AI agents: every agent the person oversees, across the orgs they own or administer (each agent
 * signup makes its own org), or only this org's. Approve or deny the pending ones, revoke approved
 * ones. Across orgs, decisions name no org: the server checks the person's role in the agent's own
 * org, or that they are its overseer.
 */
export function Agents() {
  const { org } = useSession();
  const [scope, setScope] = useState<Scope>('mine');
  const across = scope === 'mine';
  const opts = across ? { org: null } : {};
  const list = usePaged(
    (cursor) =>
      across
        ? get<Page<Agent>>('/api/v1/agents', { query: { cursor }, org: null })
        : get<Page<Agent>>('/api/v1/org/agents', { query: { cursor } }),
    [org?.id, scope],
  );
  const [revoking, setRevoking] = useState<Agent | null>(null);
  const [denying, setDenying] = useState<Agent | null>(null);
  const toast = useToast();
  const replace = (a: Agent) =>
    list.update(
      (x) => x.id === a.id,
      () => a,
    );

  return (
    <>
      <PageHeader title="Agents">
        AI agents that signed themselves up, and what they may do until a person approves them and after.
      </PageHeader>
      <div className="segmented" role="group" aria-label="Which agents">
        <Button
          small
          variant={across ? 'primary' : 'ghost'}
          aria-pressed={across}
          onClick={() => setScope('mine')}
        >
          All my agents
        </Button>
        <Button
          small
          variant={across ? 'ghost' : 'primary'}
          aria-pressed={!across}
          onClick={() => setScope('org')}
        >
          This organisation
        </Button>
      </div>
      <Loadable loading={list.loading} error={list.error} retry={list.reload}>
        {list.items.length === 0 ? (
          <Empty title="No agents">
            Agents appear here when they sign up with this organisation’s overseers, or are approved into it.
          </Empty>
        ) : (
          GROUPS.map((g) => {
            const items = list.items.filter((a) => g.statuses.includes(a.status));
            if (items.length === 0 && g.statuses[0] === 'denied') return null;
            return (
              <section key={g.title} className="section" aria-label={g.title}>
                <h2>{g.title}</h2>
                {items.length === 0 ? (
                  <p className="muted">{g.empty}</p>
                ) : (
                  <ul className="app-list">
                    {items.map((a) => (
                      <AgentCard
                        key={a.id}
                        agent={a}
                        across={across}
                        onApproved={(next) => {
                          replace(next);
                          toast(`${a.display_name} was approved.`);
                        }}
                        onDeny={() => setDenying(a)}
                        onRevoke={() => setRevoking(a)}
                      />
                    ))}
                  </ul>
                )}
              </section>
            );
          })
        )}
        <LoadMore hasMore={list.hasMore} busy={list.loadingMore} onClick={list.loadMore} />
      </Loadable>
      {denying && (
        <ConfirmDialog
          title={`Deny ${denying.display_name}?`}
          confirmLabel="Deny agent"
          busyLabel="Denying…"
          onClose={() => setDenying(null)}
          onConfirm={async () => {
            replace(await post<Agent>(path`/api/v1/org/agents/${denying.id}/deny`, undefined, opts));
            toast(`${denying.display_name} was denied; its key no longer works.`);
          }}
        >
          <p>Its key ({denying.key_prefix}…) stops working at once. This cannot be undone.</p>
        </ConfirmDialog>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.display_name}?`}
          confirmLabel="Revoke agent"
          busyLabel="Revoking…"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/agents/${revoking.id}`, opts);
            replace({ ...revoking, status: 'revoked' });
            toast(`${revoking.display_name} was revoked.`);
          }}
        >
          <p>
            Its key ({revoking.key_prefix}…) is refused from now on, on every server. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function AgentCard({
  agent: a,
  across,
  onApproved,
  onDeny,
  onRevoke,
}: {
  agent: Agent;
  across: boolean;
  onApproved: (a: Agent) => void;
  onDeny: () => void;
  onRevoke: () => void;
}) {
  const approve = useAction(async () =>
    onApproved(
      await post<Agent>(path`/api/v1/org/agents/${a.id}/approve`, undefined, across ? { org: null } : {}),
    ),
  );
  const { me } = useSession();
  const r = a.restrictions;
  return (
    <li className="card app-card">
      <div className="app-head">
        <h3>{a.display_name}</h3>
        <span className={`badge ${STATUS[a.status].badge}`}>{STATUS[a.status].label}</span>
      </div>
      {a.note_to_human && <blockquote className="agent-note">“{a.note_to_human}”</blockquote>}
      <dl className="facts">
        {across && a.org_name && (
          <>
            <dt>Organisation</dt>
            <dd>{a.org_name}</dd>
          </>
        )}
        <dt>Overseer</dt>
        <dd>{a.human_email}</dd>
        <dt>Harness</dt>
        <dd>{a.harness ?? <span className="muted">Not given</span>}</dd>
        <dt>Key</dt>
        <dd className="mono">{a.key_prefix}…</dd>
        <dt>Signed up</dt>
        <dd>
          <Time iso={a.created_at} />
        </dd>
        {a.claimed_at && (
          <>
            <dt>Approved</dt>
            <dd>
              <Time iso={a.claimed_at} />
              {a.claimed_by && (
                <span className="muted small">
                  {' '}
                  by {a.claimed_by === me.user?.id ? 'you' : <span className="mono">{a.claimed_by}</span>}
                </span>
              )}
            </dd>
          </>
        )}
        <dt>May use</dt>
        <dd>
          {r.allowed_scopes.length ? (
            <ul className="chips">
              {r.allowed_scopes.map((s) => (
                <li key={s}>{s}</li>
              ))}
            </ul>
          ) : (
            <span className="muted">No scopes</span>
          )}
        </dd>
        {r.blocked_scopes.length > 0 && (
          <>
            <dt>Blocked</dt>
            <dd>
              <ul className="chips">
                {r.blocked_scopes.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
        <dt>Limits</dt>
        <dd>{limitsText(r)}</dd>
      </dl>
      <div className="form-actions">
        {a.status === 'unclaimed' && (
          <>
            <Button
              small
              variant="primary"
              busy={approve.busy}
              onClick={() => void approve.run()}
              aria-label={`Approve ${a.display_name}`}
            >
              {approve.busy ? 'Approving…' : 'Approve'}
            </Button>
            <Button
              small
              variant="danger"
              onClick={onDeny}
              disabled={approve.busy}
              aria-label={`Deny ${a.display_name}`}
            >
              Deny
            </Button>
          </>
        )}
        {a.status === 'claimed' && (
          <Button small variant="danger" onClick={onRevoke} aria-label={`Revoke ${a.display_name}`}>
            Revoke
          </Button>
        )}
        <Link to={`/audit?actor=${encodeURIComponent(`agent:${a.id}`)}`} className="btn btn-small btn-ghost">
          Audit trail
        </Link>
      </div>
      <ErrorAlert error={approve.error} />
    </li>
  );
}
