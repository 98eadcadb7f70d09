/** The authenticator app (TOTP) card: set up with a QR code and a first code, or turn off. */
import { type FormEvent, useState } from 'react';
import { del, post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { TextField } from '../../components/Field';
import { useToast } from '../../components/Toast';
import { useAction } from '../../hooks';
import type { Guard } from './StepUp';
import { type MfaState, me } from './types';

export function Authenticator({
  state,
  guard,
  onChanged,
}: {
  state: MfaState;
  guard: Guard;
  onChanged: (codes: string[] | null) => void;
}) {
  const [setup, setSetup] = useState<{ secret: string; qr_svg: string } | null>(null);
  const [code, setCode] = useState('');
  const [disabling, setDisabling] = useState(false);
  const toast = useToast();
  const start = useAction(() =>
    guard(async () =>
      setSetup(await post<{ secret: string; qr_svg: string }>('/api/v1/me/mfa/totp', {}, me)),
    ),
  );
  const confirm = useAction(async () => {
    const out = await post<{ recovery_codes: string[] | null }>('/api/v1/me/mfa/totp/confirm', { code }, me);
    setSetup(null);
    setCode('');
    toast('Two-factor sign-in with an authenticator app is on.');
    onChanged(out.recovery_codes);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void confirm.run();
  };
  return (
    <section className="section card" aria-labelledby="totp-heading">
      <h2 id="totp-heading">Authenticator app</h2>
      {state.totp.enabled ? (
        <>
          <p>
            <span className="badge badge-success">On</span> Signing in asks for a code from your authenticator
            app.
          </p>
          <Button variant="danger" onClick={() => setDisabling(true)}>
            Turn off…
          </Button>
        </>
      ) : setup ? (
        <form onSubmit={submit} className="totp-setup">
          <p>Scan this code with an authenticator app (1Password, Google Authenticator, Authy…).</p>
          <img
            className="qr"
            width={200}
            height={200}
            alt="QR code for your authenticator app"
            src={`data:image/svg+xml;base64,${btoa(setup.qr_svg)}`}
          />
          <p className="muted small">
            Can’t scan it? Enter this key:{' '}
            <code className="mono">{setup.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
          </p>
          <TextField
            label="Code from the app"
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            maxLength={8}
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
          <ErrorAlert error={confirm.error} />
          <Button type="submit" variant="primary" busy={confirm.busy}>
            Turn on
          </Button>
          <Button variant="ghost" onClick={() => setSetup(null)}>
            Cancel
          </Button>
        </form>
      ) : (
        <>
          <p className="muted">Ask for a code from your phone at every sign-in.</p>
          <ErrorAlert error={start.error} />
          <Button variant="primary" busy={start.busy} onClick={() => void start.run()}>
            Set up an authenticator app
          </Button>
        </>
      )}
      {disabling && (
        <ConfirmDialog
          title="Turn off the authenticator app?"
          confirmLabel="Turn off"
          busyLabel="Turning off…"
          onClose={() => setDisabling(false)}
          onConfirm={() =>
            guard(async () => {
              await del('/api/v1/me/mfa/totp', me);
              toast('The authenticator app no longer signs you in.');
              onChanged(null);
            })
          }
        >
          <p>Codes from the app will no longer be asked for or accepted.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
