/** The passkeys card: the account's passkeys, adding one, removing one. */
import { type FormEvent, useState } from 'react';
import { del, path, post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { TextField } from '../../components/Field';
import { Empty } from '../../components/States';
import { Time } from '../../components/Time';
import { useToast } from '../../components/Toast';
import { useAction } from '../../hooks';
import { createPasskey, passkeyError, passkeysSupported } from '../../webauthn';
import type { Guard } from './StepUp';
import { type MfaState, me, type Passkey } from './types';

export function Passkeys({
  state,
  guard,
  onChanged,
}: {
  state: MfaState;
  guard: Guard;
  onChanged: (codes: string[] | null) => void;
}) {
  const [name, setName] = useState('');
  const [removing, setRemoving] = useState<Passkey | null>(null);
  const toast = useToast();
  const add = useAction(() =>
    guard(async () => {
      const options = await post<Record<string, unknown>>('/api/v1/me/passkeys/options', {}, me);
      let response: Record<string, unknown>;
      try {
        response = await createPasskey(options);
      } catch (err) {
        throw passkeyError(err);
      }
      const out = await post<{ recovery_codes: string[] | null }>(
        '/api/v1/me/passkeys',
        { name: name.trim() || 'Passkey', response },
        me,
      );
      setName('');
      toast('Passkey added.');
      onChanged(out.recovery_codes);
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void add.run();
  };
  return (
    <section className="section card" aria-labelledby="passkeys-heading">
      <h2 id="passkeys-heading">Passkeys</h2>
      <p className="muted">
        Sign in with your fingerprint, face or device PIN, without a password — or use one as your second
        factor.
      </p>
      {state.passkeys.length === 0 ? (
        <Empty title="No passkeys yet" />
      ) : (
        <table className="table responsive">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Added</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {state.passkeys.map((p) => (
              <tr key={p.id}>
                <td data-label="Name">
                  {p.name}
                  {p.backed_up && <span className="badge">synced</span>}
                </td>
                <td data-label="Added">
                  <Time iso={p.created_at} />
                </td>
                <td data-label="Last used">
                  <Time iso={p.last_used_at} never="never" />
                </td>
                <td className="actions">
                  <Button
                    small
                    variant="danger"
                    onClick={() => setRemoving(p)}
                    aria-label={`Remove ${p.name}`}
                  >
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {passkeysSupported() ? (
        <form onSubmit={submit}>
          <TextField
            label="Name for a new passkey"
            placeholder="e.g. Work laptop"
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <ErrorAlert error={add.error} />
          <Button type="submit" variant="primary" busy={add.busy}>
            Add a passkey
          </Button>
        </form>
      ) : (
        <p className="muted">This browser does not support passkeys.</p>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove “${removing.name}”?`}
          confirmLabel="Remove passkey"
          busyLabel="Removing…"
          onClose={() => setRemoving(null)}
          onConfirm={() =>
            guard(async () => {
              await del(path`/api/v1/me/passkeys/${removing.id}`, me);
              toast('Passkey removed.');
              onChanged(null);
            })
          }
        >
          <p>It will no longer sign you in. Remove it from the device too.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
