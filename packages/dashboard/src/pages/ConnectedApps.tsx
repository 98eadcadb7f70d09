import { useState } from 'react';
import { del, get, path } from '../api';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useLoad } from '../hooks';
import type { Grant } from '@latchkey/contract';

/** The apps this person authorised, per org: what each may do, and a way to take it back. */
export function ConnectedApps() {
  const grants = useLoad(
    async () => (await get<{ data: Grant[] }>('/api/v1/me/grants', { org: null })).data,
    [],
  );
  const [revoking, setRevoking] = useState<Grant | null>(null);
  const toast = useToast();
  const byOrg = new Map<string, Grant[]>();
  for (const g of grants.data ?? []) byOrg.set(g.org_name, [...(byOrg.get(g.org_name) ?? []), g]);

  return (
    <>
      <PageHeader title="Connected apps">
        Apps you let act for you. Revoking one stops its tokens at once, on every server.
      </PageHeader>
      <Loadable loading={grants.loading && !grants.data} error={grants.error} retry={grants.reload}>
        {byOrg.size === 0 ? (
          <Empty title="No connected apps">
            When you approve an app on a consent screen, it appears here.
          </Empty>
        ) : (
          [...byOrg.entries()].map(([orgName, list]) => (
            <section key={orgName} className="section" aria-label={`Apps in ${orgName}`}>
              <h2>{orgName}</h2>
              <table className="table responsive">
                <thead>
                  <tr>
                    <th scope="col">App</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Authorised</th>
                    <th scope="col">Last changed</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((g) => (
                    <tr key={g.id}>
                      <td data-label="App">
                        {g.client_name}
                        <div className="muted small mono break">{g.client_id}</div>
                      </td>
                      <td data-label="Resource" className="mono break">
                        {g.resource}
                      </td>
                      <td data-label="Scopes">
                        <ul className="chips">
                          {g.scopes.map((s) => (
                            <li key={s}>{s}</li>
                          ))}
                        </ul>
                      </td>
                      <td data-label="Authorised">
                        <Time iso={g.created_at} />
                      </td>
                      <td data-label="Last changed">
                        <Time iso={g.updated_at} />
                      </td>
                      <td className="actions">
                        <Button
                          small
                          variant="danger"
                          onClick={() => setRevoking(g)}
                          aria-label={`Revoke ${g.client_name} in ${orgName}`}
                        >
                          Revoke
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ))
        )}
      </Loadable>
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.client_name}?`}
          confirmLabel="Revoke access"
          busyLabel="Revoking…"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await del(path`/api/v1/me/grants/${revoking.id}`, { org: null });
            grants.set((d) => d?.filter((x) => x.id !== revoking.id));
            toast(`${revoking.client_name} no longer has access.`);
          }}
        >
          <p>
            {revoking.client_name} loses access to {revoking.resource} in {revoking.org_name}. It must ask you
            again to get it back.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
