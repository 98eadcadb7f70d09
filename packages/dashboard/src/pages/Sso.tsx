import { type FormEvent, Fragment, useEffect, useId, useState } from 'react';
import { del, get, patch, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Dialog } from '../components/Dialog';
import { SelectField, TextArea, TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { CopyField } from '../components/Secret';
import { Empty, Loadable } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, useLoad } from '../hooks';
import { useSession } from '../session';

type Kind = 'oidc' | 'saml';
type JitRole = 'admin' | 'member' | 'billing';

interface Connection {
  id: string;
  kind: Kind;
  name: string;
  enabled: boolean;
  default_role: JitRole;
  oidc: {
    issuer: string | null;
    client_id: string | null;
    client_secret_set: boolean;
    redirect_uri: string;
  } | null;
  saml: {
    metadata_url: string | null;
    metadata_xml_set: boolean;
    idp_entity_id: string | null;
    idp_sso_url: string | null;
    sp_entity_id: string;
    sp_metadata_url: string;
    acs_url: string;
  } | null;
  test: { result: 'pass' | 'fail' | null; detail: string | null; tested_at: string | null };
  created_at: string;
}
interface Settings {
  sso_enforced: boolean;
  status_page_url: string | null;
  enforcement_active: boolean;
}
interface Domain {
  domain: string;
  verified: boolean;
  verified_at: string | null;
  last_checked_at: string | null;
  /** The TXT record that proves control; null once verified. */
  challenge: { name: string; type: 'TXT'; value: string } | null;
  created_at: string;
}

const KIND_LABEL: Record<Kind, string> = { oidc: 'OIDC', saml: 'SAML' };

/** Single sign-on: connections to the org's identity providers, its verified domains and enforcement. */
export function Sso() {
  const { org } = useSession();
  const conns = useLoad(() => get<{ data: Connection[] }>('/api/v1/org/sso/connections'), [org?.id]);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<Connection | null>(null);
  const [deleting, setDeleting] = useState<Connection | null>(null);
  const toast = useToast();
  const replace = (next: Connection) =>
    conns.set((prev) => prev && { data: prev.data.map((c) => (c.id === next.id ? next : c)) });
  return (
    <>
      <PageHeader
        title="Single sign-on"
        actions={
          <Button variant="primary" onClick={() => setAdding(true)}>
            Add connection
          </Button>
        }
      >
        Let the people of {org?.name} sign in through your identity provider (OIDC or SAML).
      </PageHeader>
      <section className="section" aria-labelledby="sso-connections">
        <h2 id="sso-connections">Connections</h2>
        <p className="muted">
          A connection signs people in only once it is enabled, and it can be enabled only after a test
          passes.
        </p>
        <Loadable loading={conns.loading && !conns.data} error={conns.error} retry={conns.reload}>
          {conns.data && conns.data.data.length === 0 ? (
            <Empty
              title="No connections yet"
              action={
                <Button variant="primary" onClick={() => setAdding(true)}>
                  Add connection
                </Button>
              }
            >
              Add your identity provider to let members sign in with it.
            </Empty>
          ) : (
            <table className="table responsive">
              <thead>
                <tr>
                  <th scope="col">Connection</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last test</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {conns.data?.data.map((c) => (
                  <ConnectionRow key={c.id} conn={c} onChanged={replace} onDelete={setDeleting} />
                ))}
              </tbody>
            </table>
          )}
        </Loadable>
      </section>
      <Domains />
      <Enforcement />
      {adding && (
        <AddConnectionDialog
          onClose={() => setAdding(false)}
          onCreated={(c) => {
            conns.reload();
            setCreated(c);
            toast(`Added ${c.name}. Test it, then enable it.`);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete connection"
          busyLabel="Deleting…"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await del(path`/api/v1/org/sso/connections/${deleting.id}`);
            conns.set((prev) => prev && { data: prev.data.filter((x) => x.id !== deleting.id) });
            toast(`${deleting.name} was deleted.`);
          }}
        >
          <p>
            Nobody can sign in through it any more.
            {deleting.enabled && ' If it is the only enabled connection, SSO is no longer enforced.'} Accounts
            it made stay members.
          </p>
        </ConfirmDialog>
      )}
      {created && (
        <Dialog
          title={`Set up ${created.name} in your identity provider`}
          onClose={() => setCreated(null)}
          footer={
            <Button variant="primary" onClick={() => setCreated(null)}>
              Done
            </Button>
          }
        >
          <p>Give your identity provider these values from Latchkey, then test the connection.</p>
          <ServiceProviderUrls conn={created} copy />
        </Dialog>
      )}
    </>
  );
}

/** What the identity provider needs to know about Latchkey for this connection. */
function ServiceProviderUrls({ conn, copy = false }: { conn: Connection; copy?: boolean }) {
  const items: [string, string][] = conn.oidc
    ? [['Redirect URI', conn.oidc.redirect_uri]]
    : conn.saml
      ? [
          ['SP entity ID', conn.saml.sp_entity_id],
          ['SP metadata URL', conn.saml.sp_metadata_url],
          ['ACS URL', conn.saml.acs_url],
        ]
      : [];
  if (copy) return items.map(([label, value]) => <CopyField key={label} label={label} value={value} />);
  return (
    <dl className="facts">
      {items.map(([label, value]) => (
        <Fragment key={label}>
          <dt>{label}</dt>
          <dd className="mono small">{value}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

function TestResult({ test }: { test: Connection['test'] }) {
  if (!test.result) return <span className="muted">Not tested yet</span>;
  const pass = test.result === 'pass';
  return (
    <>
      <span className={`badge ${pass ? 'badge-success' : 'badge-danger'}`}>{pass ? 'Passed' : 'Failed'}</span>{' '}
      <Time iso={test.tested_at} />
      {test.detail && <div className="muted small">{test.detail}</div>}
    </>
  );
}

function ConnectionRow({
  conn: c,
  onChanged,
  onDelete,
}: {
  conn: Connection;
  onChanged: (c: Connection) => void;
  onDelete: (c: Connection) => void;
}) {
  const toast = useToast();
  const test = useAction(async () => {
    const next = await post<Connection>(path`/api/v1/org/sso/connections/${c.id}/test`);
    onChanged(next);
    toast(
      next.test.result === 'pass'
        ? `The test of ${c.name} passed.`
        : `The test of ${c.name} failed${next.test.detail ? `: ${next.test.detail}` : '.'}`,
    );
  });
  const toggle = useAction(async (enabled: boolean) => {
    const next = await patch<Connection>(path`/api/v1/org/sso/connections/${c.id}`, { enabled });
    onChanged(next);
    toast(enabled ? `${c.name} is enabled: members can sign in with it.` : `${c.name} is disabled.`);
  });
  const tested = c.test.result === 'pass';
  const hintId = useId();
  return (
    <tr>
      <td data-label="Connection">
        <strong>{c.name}</strong>
        {c.oidc?.issuer && <div className="muted small mono">{c.oidc.issuer}</div>}
        {c.saml?.idp_entity_id && <div className="muted small mono">{c.saml.idp_entity_id}</div>}
        <details className="small">
          <summary>Latchkey’s URLs</summary>
          <ServiceProviderUrls conn={c} />
        </details>
      </td>
      <td data-label="Kind">{KIND_LABEL[c.kind]}</td>
      <td data-label="Status">
        <span className={`badge ${c.enabled ? 'badge-success' : ''}`}>
          {c.enabled ? 'Enabled' : 'Disabled'}
        </span>
      </td>
      <td data-label="Last test">
        <TestResult test={c.test} />
        {!c.enabled && !tested && (
          <p id={hintId} className="muted small">
            Enable it after a passing test.
          </p>
        )}
        <ErrorAlert error={test.error ?? toggle.error} />
      </td>
      <td className="actions">
        <Button
          small
          busy={test.busy}
          onClick={() => void test.run()}
          aria-label={`Test connection ${c.name}`}
        >
          {test.busy ? 'Testing…' : 'Test connection'}
        </Button>
        {c.enabled ? (
          <Button
            small
            busy={toggle.busy}
            onClick={() => void toggle.run(false)}
            aria-label={`Disable ${c.name}`}
          >
            Disable
          </Button>
        ) : (
          <Button
            small
            variant="primary"
            busy={toggle.busy}
            disabled={!tested}
            aria-label={`Enable ${c.name}`}
            aria-describedby={tested ? undefined : hintId}
            onClick={() => void toggle.run(true)}
          >
            Enable
          </Button>
        )}
        <Button small variant="danger" onClick={() => onDelete(c)} aria-label={`Delete ${c.name}`}>
          Delete
        </Button>
      </td>
    </tr>
  );
}

function AddConnectionDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (c: Connection) => void;
}) {
  const [kind, setKind] = useState<Kind>('oidc');
  const [name, setName] = useState('');
  const [role, setRole] = useState<JitRole>('member');
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [clientSecret, setClientSecret] = useState('');
  const [source, setSource] = useState<'url' | 'xml'>('url');
  const [metadataUrl, setMetadataUrl] = useState('');
  const [metadataXml, setMetadataXml] = useState('');
  const formId = useId();
  const kindName = useId();
  const sourceName = useId();
  const action = useAction(async () => {
    const body =
      kind === 'oidc'
        ? {
            oidc_issuer: issuer.trim(),
            oidc_client_id: clientId.trim(),
            oidc_client_secret: clientSecret,
          }
        : source === 'url'
          ? { saml_metadata_url: metadataUrl.trim() }
          : { saml_metadata_xml: metadataXml };
    onCreated(
      await post<Connection>('/api/v1/org/sso/connections', {
        kind,
        name: name.trim(),
        default_role: role,
        ...body,
      }),
    );
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await action.run()) onClose();
  };
  return (
    <Dialog
      title="Add an SSO connection"
      onClose={onClose}
      locked={action.busy}
      wide
      footer={
        <>
          <Button onClick={onClose} disabled={action.busy}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" busy={action.busy}>
            {action.busy ? 'Adding…' : 'Add connection'}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit}>
        <fieldset className="field">
          <legend>Protocol</legend>
          <div className="radio-row">
            {(['oidc', 'saml'] as const).map((k) => (
              <label key={k} className="checkbox">
                <input type="radio" name={kindName} checked={kind === k} onChange={() => setKind(k)} />
                <span>{KIND_LABEL[k]}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <TextField
          label="Name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          hint="Shown to admins, like “Okta” or “Entra ID”."
          data-autofocus
        />
        <SelectField
          label="Role for new members"
          value={role}
          onChange={(e) => setRole(e.target.value as JitRole)}
          hint="People this connection signs in for the first time join with this role."
        >
          <option value="member">member</option>
          <option value="billing">billing</option>
          <option value="admin">admin</option>
        </SelectField>
        {kind === 'oidc' ? (
          <>
            <TextField
              label="Issuer URL"
              type="url"
              required
              maxLength={2000}
              value={issuer}
              onChange={(e) => setIssuer(e.target.value)}
              hint="Latchkey reads its /.well-known/openid-configuration."
              spellCheck={false}
            />
            <TextField
              label="Client ID"
              required
              maxLength={500}
              value={clientId}
              onChange={(e) => setClientId(e.target.value)}
              autoComplete="off"
              spellCheck={false}
            />
            <TextField
              label="Client secret"
              type="password"
              required
              maxLength={2000}
              value={clientSecret}
              onChange={(e) => setClientSecret(e.target.value)}
              autoComplete="new-password"
              hint="Stored by Latchkey and never shown again."
            />
            <CopyField label="Redirect URI" value={`${window.location.origin}/api/sso/oidc/callback`} />
          </>
        ) : (
          <>
            <fieldset className="field">
              <legend>Identity provider metadata</legend>
              <div className="radio-row">
                <label className="checkbox">
                  <input
                    type="radio"
                    name={sourceName}
                    checked={source === 'url'}
                    onChange={() => setSource('url')}
                  />
                  <span>From a URL</span>
                </label>
                <label className="checkbox">
                  <input
                    type="radio"
                    name={sourceName}
                    checked={source === 'xml'}
                    onChange={() => setSource('xml')}
                  />
                  <span>Paste the XML</span>
                </label>
              </div>
            </fieldset>
            {source === 'url' ? (
              <TextField
                label="Metadata URL"
                type="url"
                required
                maxLength={2000}
                value={metadataUrl}
                onChange={(e) => setMetadataUrl(e.target.value)}
                spellCheck={false}
              />
            ) : (
              <TextArea
                label="Metadata XML"
                required
                rows={8}
                className="mono"
                value={metadataXml}
                onChange={(e) => setMetadataXml(e.target.value)}
                spellCheck={false}
              />
            )}
            <p className="muted small">
              Latchkey’s entity ID, metadata URL and ACS URL are shown once the connection is added.
            </p>
          </>
        )}
        <ErrorAlert error={action.error} />
      </form>
    </Dialog>
  );
}

function Domains() {
  const { org } = useSession();
  const list = useLoad(() => get<{ data: Domain[] }>('/api/v1/org/sso/domains'), [org?.id]);
  const [domain, setDomain] = useState('');
  const [removing, setRemoving] = useState<Domain | null>(null);
  const toast = useToast();
  const add = useAction(async () => {
    const d = await post<Domain>('/api/v1/org/sso/domains', { domain: domain.trim() });
    setDomain('');
    list.set((prev) => prev && { data: [...prev.data, d] });
    toast(`Added ${d.domain}. Publish its DNS record, then check DNS to verify it.`);
  });
  const verify = useAction(async (d: Domain) => {
    const next = await post<Domain>(path`/api/v1/org/sso/domains/${d.domain}/verify`);
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

function Enforcement() {
  const { org } = useSession();
  const current = useLoad(() => get<Settings>('/api/v1/org/sso'), [org?.id]);
  const [enforced, setEnforced] = useState(false);
  const [statusUrl, setStatusUrl] = useState('');
  const toast = useToast();
  const s = current.data;
  useEffect(() => {
    if (!s) return;
    setEnforced(s.sso_enforced);
    setStatusUrl(s.status_page_url ?? '');
  }, [s]);
  const action = useAction(async () => {
    const next = await patch<Settings>('/api/v1/org/sso', {
      sso_enforced: enforced,
      status_page_url: statusUrl.trim() || null,
    });
    current.set(() => next);
    toast(
      next.enforcement_active
        ? 'SSO settings saved. Members must sign in with SSO.'
        : next.sso_enforced
          ? 'SSO settings saved. Enforcement starts once a connection is enabled.'
          : 'SSO settings saved.',
    );
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };
  const changed = !!s && (enforced !== s.sso_enforced || (statusUrl.trim() || null) !== s.status_page_url);
  return (
    <section className="section card" aria-labelledby="sso-enforcement">
      <h2 id="sso-enforcement">Enforcement</h2>
      <Loadable loading={current.loading && !s} error={current.error} retry={current.reload}>
        {s && (
          <form onSubmit={submit}>
            {s.enforcement_active ? (
              <Notice tone="success">
                <p>SSO is enforced: members sign in only through an enabled connection.</p>
              </Notice>
            ) : s.sso_enforced ? (
              <Notice tone="warning">
                <p>SSO is required, but no connection is enabled, so members still sign in as before.</p>
              </Notice>
            ) : null}
            <div className="field">
              <label className="checkbox">
                <input type="checkbox" checked={enforced} onChange={(e) => setEnforced(e.target.checked)} />
                <span>
                  <strong>Require SSO for members</strong>
                  <span className="muted small">
                    {' '}
                    Passwords and email links stop working for members while a connection is enabled.
                  </span>
                </span>
              </label>
            </div>
            <TextField
              label="Status page URL (optional)"
              type="url"
              maxLength={2000}
              value={statusUrl}
              onChange={(e) => setStatusUrl(e.target.value)}
              hint="Shown to people when the identity provider cannot be reached."
              spellCheck={false}
            />
            <ErrorAlert error={action.error} />
            <Button type="submit" variant="primary" busy={action.busy} disabled={!changed}>
              {action.busy ? 'Saving…' : 'Save SSO settings'}
            </Button>
          </form>
        )}
      </Loadable>
    </section>
  );
}
