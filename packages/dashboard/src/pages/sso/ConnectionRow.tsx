import { Fragment, useId } from 'react';
import { patch, path, post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { CopyField } from '../../components/Secret';
import { Time } from '../../components/Time';
import { useToast } from '../../components/Toast';
import { useAction } from '../../hooks';
import type { SsoConnection } from '@latchkey/contract';
import { KIND_LABEL } from './labels';

/** What the identity provider needs to know about Latchkey for this connection. */
export function ServiceProviderUrls({ conn, copy = false }: { conn: SsoConnection; copy?: boolean }) {
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

function TestResult({ test }: { test: SsoConnection['test'] }) {
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

/** One connection in the table: its status, its last test, and test, enable, disable and delete. */
export function ConnectionRow({
  conn: c,
  onChanged,
  onDelete,
}: {
  conn: SsoConnection;
  onChanged: (c: SsoConnection) => void;
  onDelete: (c: SsoConnection) => void;
}) {
  const toast = useToast();
  const test = useAction(async () => {
    const next = await post<SsoConnection>(path`/api/v1/org/sso/connections/${c.id}/test`);
    onChanged(next);
    toast(
      next.test.result === 'pass'
        ? `The test of ${c.name} passed.`
        : `The test of ${c.name} failed${next.test.detail ? `: ${next.test.detail}` : '.'}`,
    );
  });
  const toggle = useAction(async (enabled: boolean) => {
    const next = await patch<SsoConnection>(path`/api/v1/org/sso/connections/${c.id}`, { enabled });
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
