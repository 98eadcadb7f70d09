import { type FormEvent, useState } from 'react';
import { del, get, path, post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { TextField } from '../../components/Field';
import { CopyField } from '../../components/Secret';
import { Empty, Loadable } from '../../components/States';
import { Time } from '../../components/Time';
import { useToast } from '../../components/Toast';
import { useAction, useLoad } from '../../hooks';
import { useSession } from '../../session';
import type { SsoDomain } from '@latchkey/contract';

/** The org's email domains: added, proven by a DNS TXT record, re-checked by the server. */
export function Domains() {
  const { org } = useSession();
  const list = useLoad(() => get<{ data: SsoDomain[] }>('/api/v1/org/sso/domains'), [org?.id]);
  const [domain, setDomain] = useState('');
  const [removing, setRemoving] = useState<SsoDomain | null>(null);
  const toast = useToast();
  const add = useAction(async () => {
    const d = await post<SsoDomain>('/api/v1/org/sso/domains', { domain: domain.trim() });
    setDomain('');
    list.set((prev) => prev && { data: [...prev.data, d] });
    toast(`Added ${d.domain}. Publish its DNS record, then check DNS to verify it.`);
  });
  const verify = useAction(async (d: SsoDomain) => {
    const next = await post<SsoDomain>(path`/api/v1/org/sso/domains/${d.domain}/verify`);
    list.set((prev) => prev && { data: prev.data.map((x) => (x.domain === d.domain ? next : x)) });
    toast(`${d.domain} is verified.`);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void add.run();
  };
  return (
    <section className="section" aria-labelledby="sso-domains">
      <h2 id="sso-domains">Domains</h2>
      <p className="muted">
        People whose email is at a verified domain sign in through this organisation’s connection. To verify a
        domain, publish the TXT record shown for it in the domain’s DNS, then check DNS. Latchkey checks the
        record daily; a domain whose record is gone for 7 days is no longer verified.
      </p>
      <div className="card">
        <form className="inline-form" onSubmit={submit}>
          <TextField
            label="Domain"
            required
            maxLength={253}
            placeholder="example.com"
            autoComplete="off"
            spellCheck={false}
            value={domain}
            onChange={(e) => setDomain(e.target.value)}
          />
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={add.busy}>
              {add.busy ? 'Adding…' : 'Add domain'}
            </Button>
          </div>
        </form>
        <ErrorAlert error={add.error} />
      </div>
      <Loadable loading={list.loading && !list.data} error={list.error} retry={list.reload}>
        {list.data && list.data.data.length === 0 ? (
          <Empty title="No domains yet">Add the domain of your members’ email addresses.</Empty>
        ) : (
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Domain</th>
                <th scope="col">Status</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data?.data.map((d) => (
                <tr key={d.domain}>
                  <td data-label="Domain" className="mono">
                    {d.domain}
                  </td>
                  <td data-label="Status">
                    {d.verified ? (
                      <>
                        <span className="badge badge-success">Verified</span> <Time iso={d.verified_at} />
                      </>
                    ) : (
                      <>
                        <span className="badge badge-warning">Not verified</span>
                        {d.challenge && (
                          <div className="dns-record">
                            <p className="muted small">Publish this TXT record in the DNS of {d.domain}:</p>
                            <CopyField label={`TXT record name for ${d.domain}`} value={d.challenge.name} />
                            <CopyField label={`TXT record value for ${d.domain}`} value={d.challenge.value} />
                          </div>
                        )}
                      </>
                    )}
                  </td>
                  <td data-label="Added">
                    <Time iso={d.created_at} />
                  </td>
                  <td className="actions">
                    {!d.verified && (
                      <Button
                        small
                        variant="primary"
                        busy={verify.busy}
                        onClick={() => void verify.run(d)}
                        aria-label={`Check DNS for ${d.domain}`}
                      >
                        {verify.busy ? 'Checking…' : 'Check DNS'}
                      </Button>
                    )}
                    <Button
                      small
                      variant="danger"
                      onClick={() => setRemoving(d)}
                      aria-label={`Remove ${d.domain}`}
                    >
                      Remove
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <ErrorAlert error={verify.error} />
      </Loadable>
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.domain}?`}
          confirmLabel="Remove domain"
          busyLabel="Removing…"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/sso/domains/${removing.domain}`);
            list.set((prev) => prev && { data: prev.data.filter((x) => x.domain !== removing.domain) });
            toast(`${removing.domain} was removed.`);
          }}
        >
          <p>
            People at {removing.domain} no longer sign in through this organisation’s connection, and new
            people there no longer get an account by SSO.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
