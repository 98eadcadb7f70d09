import { type FormEvent, useState } from 'react';
import { get, type Page } from '../api';
import { download, toCsv, toJsonLines } from '../audit-export';
import { Button } from '../components/Button';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable, LoadMore } from '../components/States';
import { Time } from '../components/Time';
import { plural } from '../format';
import { useLoad, usePaged } from '../hooks';
import { setQuery, useLocation } from '../router';
import { useSession } from '../session';
import type { AuditEvent, Member } from '@latchkey/contract';
import { AuditDrawer } from './AuditDrawer';

const FAMILIES = [
  'member.*',
  'invitation.*',
  'token.*',
  'oauth.*',
  'org.*',
  'user.*',
  'session.*',
  'agent.*',
];
const ACTIONS = [
  'member.role_changed',
  'invitation.created',
  'invitation.accepted',
  'invitation.revoked',
  'token.created',
  'token.revoked',
  'token.rotated',
  'token.leak_revoked',
  'oauth.client_created',
  'oauth.client_deleted',
  'oauth.consent_given',
  'oauth.grant_revoked',
  'org.created',
  'org.updated',
  'user.signin',
  'user.signin_failed',
  'user.new_device_signin',
];

/** A `datetime-local` value (local time) ↔ an ISO instant. */
function toIso(local: string): string {
  return local ? new Date(local).toISOString() : '';
}
function toLocal(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function Audit() {
  const { org } = useSession();
  const { query } = useLocation();
  const filters = {
    action: query.get('action') ?? '',
    actor: query.get('actor') ?? '',
    since: query.get('since') ?? '',
    until: query.get('until') ?? '',
  };
  const key = JSON.stringify(filters);
  const list = usePaged(
    (cursor) => get<Page<AuditEvent>>('/api/v1/audit', { query: { ...filters, cursor, limit: 100 } }),
    [key, org?.id],
  );
  const [open, setOpen] = useState<AuditEvent | null>(null);
  // Names for `user:<id>` actors, from the member list (people who left show as their id).
  const people = useLoad(async () => {
    const p = await get<Page<Member>>('/api/v1/org/members', { query: { limit: 500 } });
    return new Map(p.data.map((m) => [`user:${m.user_id}`, m.name]));
  }, [org?.id]);
  const filtered = Object.values(filters).some(Boolean);
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');

  return (
    <>
      <PageHeader
        title="Audit log"
        actions={
          <>
            <Button
              disabled={list.items.length === 0}
              onClick={() => download(`audit-${org?.slug}-${stamp}.csv`, toCsv(list.items), 'text/csv')}
            >
              Export CSV
            </Button>
            <Button
              disabled={list.items.length === 0}
              onClick={() =>
                download(`audit-${org?.slug}-${stamp}.jsonl`, toJsonLines(list.items), 'application/x-ndjson')
              }
            >
              Export JSON lines
            </Button>
          </>
        }
      >
        Every grant, mint, revocation, role change and sign-in in {org?.name}, newest first. Exports hold the
        events loaded below.
      </PageHeader>
      <Filters key={key} initial={filters} />
      <section className="section" aria-labelledby="events-heading">
        <h2 id="events-heading" className="sr-only">
          Events
        </h2>
        <Loadable loading={list.loading} error={list.error} retry={list.reload}>
          {list.items.length === 0 ? (
            <Empty title={filtered ? 'No events match these filters' : 'No events yet'}>
              {filtered
                ? 'Widen the time range or clear a filter.'
                : 'Events appear here as people and apps act in this organisation.'}
            </Empty>
          ) : (
            <>
              <p className="muted small" aria-live="polite">
                Showing {plural(list.items.length, 'event')}
                {list.hasMore ? '; more are available' : ''}.
              </p>
              <table className="table responsive audit-table">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Action</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Target</th>
                    <th scope="col">
                      <span className="sr-only">Details</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((e) => (
                    <tr key={e.id}>
                      <td data-label="When">
                        <Time iso={e.created_at} />
                      </td>
                      <td data-label="Action">
                        <code>{e.action}</code>
                      </td>
                      <td data-label="Actor">
                        <Actor actor={e.actor} names={people.data} />
                      </td>
                      <td data-label="Target" className="mono break">
                        {e.target ?? '—'}
                      </td>
                      <td className="actions">
                        <Button
                          small
                          onClick={() => setOpen(e)}
                          aria-label={`Details of ${e.action} at ${new Date(e.created_at).toLocaleString()}`}
                        >
                          Details
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          <LoadMore
            hasMore={list.hasMore}
            busy={list.loadingMore}
            onClick={list.loadMore}
            error={list.items.length ? list.error : null}
          />
        </Loadable>
      </section>
      {open && <AuditDrawer event={open} name={people.data?.get(open.actor)} onClose={() => setOpen(null)} />}
    </>
  );
}

function Filters({ initial }: { initial: { action: string; actor: string; since: string; until: string } }) {
  const [action, setAction] = useState(initial.action);
  const [actor, setActor] = useState(initial.actor);
  const [since, setSince] = useState(toLocal(initial.since));
  const [until, setUntil] = useState(toLocal(initial.until));
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ action: action.trim(), actor: actor.trim(), since: toIso(since), until: toIso(until) });
  };
  const clear = () => setQuery({ action: null, actor: null, since: null, until: null });
  return (
    <form className="filters card" onSubmit={apply} aria-label="Filter events">
      <TextField
        label="Action"
        list="audit-actions"
        placeholder="e.g. member.* or token.created"
        maxLength={100}
        value={action}
        onChange={(e) => setAction(e.target.value)}
      />
      <datalist id="audit-actions">
        {[...FAMILIES, ...ACTIONS].map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <TextField
        label="Actor"
        placeholder="e.g. user:… or agent:…"
        maxLength={200}
        value={actor}
        onChange={(e) => setActor(e.target.value)}
      />
      <TextField
        label="From"
        type="datetime-local"
        value={since}
        onChange={(e) => setSince(e.target.value)}
      />
      <TextField
        label="Until"
        type="datetime-local"
        value={until}
        onChange={(e) => setUntil(e.target.value)}
      />
      <div className="form-actions">
        <Button type="submit" variant="primary">
          Apply filters
        </Button>
        <Button onClick={clear}>Clear</Button>
      </div>
    </form>
  );
}

function Actor({ actor, names }: { actor: string; names: Map<string, string> | undefined }) {
  const name = names?.get(actor);
  if (!name) return <span className="mono break">{actor}</span>;
  return (
    <span title={actor}>
      {name}
      <span className="muted small mono break actor-id">{actor}</span>
    </span>
  );
}
