import { type FormEvent, useId, useState } from 'react';
import { post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { Dialog } from '../../components/Dialog';
import { SelectField, TextArea, TextField } from '../../components/Field';
import { CopyField } from '../../components/Secret';
import { useAction } from '../../hooks';
import type { ProvisionedRole, SsoConnection, SsoKind } from '@latchkey/contract';
import { KIND_LABEL } from './labels';

/** Adds an OIDC or SAML connection: disabled until a test passes. */
export function AddConnectionDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (c: SsoConnection) => void;
}) {
  const [kind, setKind] = useState<SsoKind>('oidc');
  const [name, setName] = useState('');
  const [role, setRole] = useState<ProvisionedRole>('member');
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
      await post<SsoConnection>('/api/v1/org/sso/connections', {
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
          onChange={(e) => setRole(e.target.value as ProvisionedRole)}
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
