import { type FormEvent, useId, useState } from 'react';
import { patch, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { CheckboxGroup, TextArea, TextField } from '../components/Field';
import { CopyField, SecretOnce } from '../components/Secret';
import { useAction } from '../hooks';
import type { ClientType, OAuthApp } from '@latchkey/contract';

const GRANTS = [
  { value: 'authorization_code', label: 'Authorization code (people sign in)' },
  { value: 'refresh_token', label: 'Refresh tokens' },
  {
    value: 'client_credentials',
    label: 'Client credentials (the app acts as itself)',
    confidentialOnly: true,
  },
  { value: 'urn:ietf:params:oauth:grant-type:device_code', label: 'Device code (CLIs, TVs)' },
];

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Create or edit an OAuth app; a new app's client id and one-time secret are shown in the same dialog. */
export function OAuthAppDialog({
  app,
  scopes,
  onClose,
  onSaved,
}: {
  app: OAuthApp | null;
  scopes: readonly string[];
  onClose: () => void;
  onSaved: (a: OAuthApp) => void;
}) {
  const [name, setName] = useState(app?.name ?? '');
  const [type, setType] = useState<ClientType>(app?.type ?? 'confidential');
  const [uris, setUris] = useState(app?.redirect_uris.join('\n') ?? '');
  const [picked, setPicked] = useState<string[]>(app?.scopes ?? []);
  const [grants, setGrants] = useState<string[]>(app?.grant_types ?? ['authorization_code', 'refresh_token']);
  const [created, setCreated] = useState<OAuthApp | null>(null);
  const formId = useId();
  const typeName = useId();

  const action = useAction(async () => {
    const usable = grants.filter((g) => type === 'confidential' || g !== 'client_credentials');
    const body = {
      name: name.trim(),
      redirect_uris: lines(uris),
      scopes: picked.length ? picked : null,
      grant_types: usable,
    };
    if (app) {
      onSaved(await patch<OAuthApp>(path`/api/v1/oauth/clients/${app.id}`, body));
      onClose();
      return;
    }
    const out = await post<OAuthApp>('/api/v1/oauth/clients', {
      ...body,
      type,
      scopes: picked.length ? picked : undefined,
    });
    onSaved(out);
    setCreated(out);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };

  if (created) {
    return (
      <Dialog
        title={`${created.name} is ready`}
        onClose={onClose}
        footer={
          <Button variant="primary" onClick={onClose}>
            {created.client_secret ? 'I have copied the secret' : 'Done'}
          </Button>
        }
      >
        <CopyField label="Client id" value={created.client_id} />
        {created.client_secret ? (
          <SecretOnce label="Client secret" value={created.client_secret} />
        ) : (
          <Notice>
            <p>A public app has no secret: it proves itself with PKCE.</p>
          </Notice>
        )}
      </Dialog>
    );
  }

  return (
    <Dialog
      title={app ? `Edit ${app.name}` : 'New OAuth app'}
      onClose={onClose}
      locked={action.busy}
      wide
      footer={
        <>
          <Button onClick={onClose} disabled={action.busy}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" busy={action.busy}>
            {action.busy ? 'Saving…' : app ? 'Save changes' : 'Create app'}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit}>
        <TextField
          label="Name"
          hint="People see it on the consent screen."
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-autofocus
        />
        {!app && (
          <fieldset className="field">
            <legend>Type</legend>
            <div className="radio-row">
              <label className="checkbox">
                <input
                  type="radio"
                  name={typeName}
                  checked={type === 'confidential'}
                  onChange={() => setType('confidential')}
                />
                <span>
                  Confidential <span className="muted small">a server that can keep a secret</span>
                </span>
              </label>
              <label className="checkbox">
                <input
                  type="radio"
                  name={typeName}
                  checked={type === 'public'}
                  onChange={() => setType('public')}
                />
                <span>
                  Public{' '}
                  <span className="muted small">a browser, mobile or desktop app (PKCE, no secret)</span>
                </span>
              </label>
            </div>
          </fieldset>
        )}
        <TextArea
          label="Redirect URIs"
          hint="One per line. https, or http on a loopback address (127.0.0.1, [::1], localhost). Matched exactly."
          rows={3}
          spellCheck={false}
          value={uris}
          onChange={(e) => setUris(e.target.value)}
        />
        <CheckboxGroup
          legend="Grant types"
          options={GRANTS.filter((g) => type === 'confidential' || !g.confidentialOnly)}
          value={grants}
          onChange={setGrants}
        />
        <CheckboxGroup
          legend="Allowed scopes"
          hint="Leave all unticked to allow every scope of the resources it asks for."
          options={scopes.map((s) => ({ value: s }))}
          value={picked}
          onChange={setPicked}
        />
        <ErrorAlert error={action.error} />
      </form>
    </Dialog>
  );
}
