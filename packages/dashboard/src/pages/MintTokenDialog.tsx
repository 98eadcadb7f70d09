import { type FormEvent, useId, useState } from 'react';
import { post } from '../api';
import { ErrorAlert } from '../components/Alert';
import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { CheckboxGroup, SelectField, TextField } from '../components/Field';
import { SecretOnce } from '../components/Secret';
import { useToast } from '../components/Toast';
import { formatDateTime } from '../format';
import { useAction } from '../hooks';
import type { ApiToken } from '@latchkey/contract';
import type { TokenKind } from './Tokens';

const DAY = 24 * 3600;
const EXPIRIES = [
  { value: String(7 * DAY), label: '7 days' },
  { value: String(30 * DAY), label: '30 days' },
  { value: String(90 * DAY), label: '90 days' },
  { value: String(366 * DAY), label: '1 year' },
  { value: '', label: 'Never' },
];

/** Mint form → the plaintext, once. */
export function MintTokenDialog({
  kind,
  onClose,
  onMinted,
}: {
  kind: TokenKind;
  onClose: () => void;
  onMinted: (t: ApiToken) => void;
}) {
  const [name, setName] = useState('');
  const [expiresIn, setExpiresIn] = useState(String(90 * DAY));
  const [scopes, setScopes] = useState<string[]>([]);
  const [minted, setMinted] = useState<ApiToken | null>(null);
  const toast = useToast();
  const formId = useId();
  const action = useAction(async () => {
    const t = await post<ApiToken>(kind.mintPath, {
      ...kind.mintBody,
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(scopes.length ? { scopes } : {}),
      // No lifetime sent means the server's default (90 days): "Never" has to be asked for.
      ...(expiresIn ? { expires_in: Number(expiresIn) } : { never_expires: true }),
    });
    setMinted(t);
    onMinted(t);
    toast(`${t.name ?? t.prefix} was created.`);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };

  if (minted?.token) return <TokenShownOnce kind={kind} token={minted} onClose={onClose} />;

  return (
    <Dialog
      title={`New ${kind.noun}`}
      onClose={onClose}
      locked={action.busy}
      wide
      footer={
        <>
          <Button onClick={onClose} disabled={action.busy}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" busy={action.busy}>
            {action.busy ? 'Creating…' : 'Create'}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit}>
        <TextField
          label="Name"
          hint="What uses it, so you can tell tokens apart later."
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-autofocus
        />
        <SelectField label="Expires after" value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
          {EXPIRIES.map((x) => (
            <option key={x.value} value={x.value}>
              {x.label}
            </option>
          ))}
        </SelectField>
        <CheckboxGroup
          legend="Scopes"
          hint="Tick only what it needs. Left all unticked, it gets org:read only."
          options={kind.scopes.map((s) => ({ value: s }))}
          value={scopes}
          onChange={setScopes}
        />
        <ErrorAlert error={action.error} />
      </form>
    </Dialog>
  );
}

/** A token's secret, shown once: after minting, and after rotating. */
export function TokenShownOnce({
  kind,
  token,
  onClose,
}: {
  kind: TokenKind;
  token: ApiToken;
  onClose: () => void;
}) {
  return (
    <Dialog
      title={`Your new ${kind.noun}`}
      onClose={onClose}
      footer={
        <Button variant="primary" onClick={onClose}>
          I have copied it
        </Button>
      }
    >
      <SecretOnce label="Token" value={token.token ?? ''} />
      <dl className="facts">
        <dt>Name</dt>
        <dd>{token.name ?? 'Unnamed'}</dd>
        <dt>Scopes</dt>
        <dd>{token.scopes.join(', ')}</dd>
        <dt>Expires</dt>
        <dd>{token.expires_at ? formatDateTime(token.expires_at) : 'Never'}</dd>
      </dl>
    </Dialog>
  );
}
