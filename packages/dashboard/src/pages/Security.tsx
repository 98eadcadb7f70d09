import { type FormEvent, useState } from 'react';
import { ApiProblem, del, get, path, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { Empty, Loadable } from '../components/States';
import { Time } from '../components/Time';
import { useToast } from '../components/Toast';
import { useAction, useLoad } from '../hooks';
import { createPasskey, passkeyError, passkeysSupported, assertPasskey } from '../webauthn';
import '../styles/security.css';

interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  backed_up: boolean;
}
interface MfaState {
  totp: { enabled: boolean };
  recovery_codes: { remaining: number };
  passkeys: Passkey[];
  methods: ('totp' | 'recovery_code' | 'passkey')[];
  required_by: { slug: string; name: string } | null;
  step_up_until: string | null;
}

const me = { org: null } as const;

/**
 * Runs a sensitive change; when the server answers `step_up_required`, asks for the second factor
 * (the StepUp form below), then runs it again.
 */
function useStepUp() {
  const [pending, setPending] = useState<{ methods: string[]; retry: () => Promise<unknown> } | null>(null);
  const guard = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof ApiProblem && err.code === 'step_up_required') {
        setPending({ methods: (err.problem.methods as string[]) ?? [], retry: fn });
        return;
      }
      throw err;
    }
  };
  return { pending, guard, done: () => setPending(null) };
}

export function Security() {
  const state = useLoad(() => get<MfaState>('/api/v1/me/mfa', me), []);
  const stepUp = useStepUp();
  const [codes, setCodes] = useState<string[] | null>(null);
  const s = state.data;
  return (
    <>
      <PageHeader title="Security">Two-factor sign-in, recovery codes and passkeys.</PageHeader>
      <Loadable loading={state.loading && !s} error={state.error} retry={state.reload}>
        {s && (
          <>
            {s.required_by && s.methods.length === 0 && (
              <Notice tone="warning" title={`${s.required_by.name} requires two-factor sign-in`}>
                <p>Add an authenticator app or a passkey to keep using it.</p>
              </Notice>
            )}
            {stepUp.pending && (
              <StepUp
                methods={stepUp.pending.methods}
                onCancel={stepUp.done}
                onProven={async () => {
                  const retry = stepUp.pending!.retry;
                  stepUp.done();
                  await retry();
                }}
              />
            )}
            {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
            <Authenticator
              state={s}
              guard={stepUp.guard}
              onChanged={(fresh) => {
                if (fresh) setCodes(fresh);
                state.reload();
              }}
            />
            <Passkeys
              state={s}
              guard={stepUp.guard}
              onChanged={(fresh) => {
                if (fresh) setCodes(fresh);
                state.reload();
              }}
            />
            <section className="section card" aria-labelledby="recovery-heading">
              <h2 id="recovery-heading">Recovery codes</h2>
              {s.methods.length === 0 ? (
                <p className="muted">You get ten recovery codes when you add your first second factor.</p>
              ) : (
                <>
                  <p>
                    {s.recovery_codes.remaining} of 10 unused. Each signs you in once if you lose your phone
                    or passkey.
                  </p>
                  <RegenerateCodes guard={stepUp.guard} onCodes={(c) => (setCodes(c), state.reload())} />
                </>
              )}
            </section>
          </>
        )}
      </Loadable>
    </>
  );
}

type Guard = (fn: () => Promise<unknown>) => Promise<void>;

function Authenticator({
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

function Passkeys({
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

function RegenerateCodes({ guard, onCodes }: { guard: Guard; onCodes: (codes: string[]) => void }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <>
      <Button onClick={() => setConfirming(true)}>Generate new codes…</Button>
      {confirming && (
        <ConfirmDialog
          title="Generate new recovery codes?"
          confirmLabel="Generate"
          danger={false}
          onClose={() => setConfirming(false)}
          onConfirm={() =>
            guard(async () => {
              const out = await post<{ recovery_codes: string[] }>('/api/v1/me/mfa/recovery-codes', {}, me);
              onCodes(out.recovery_codes);
            })
          }
        >
          <p>Your current codes stop working at once.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <Notice tone="success" title="Save your recovery codes">
      <p>Each signs you in once if you lose your second factor. They are shown only now.</p>
      <pre className="recovery-codes mono" aria-label="Recovery codes">
        {codes.join('\n')}
      </pre>
      <Button small onClick={onDone}>
        I saved them
      </Button>
    </Notice>
  );
}

/** Proves the second factor again (step-up) before a sensitive change. */
function StepUp({
  methods,
  onCancel,
  onProven,
}: {
  methods: string[];
  onCancel: () => void;
  onProven: () => Promise<void>;
}) {
  const [code, setCode] = useState('');
  const [method, setMethod] = useState<'totp' | 'recovery_code'>(
    methods.includes('totp') ? 'totp' : 'recovery_code',
  );
  const byCode = useAction(async () => {
    await post('/api/v1/me/step-up', { method, code }, me);
    await onProven();
  });
  const byPasskey = useAction(async () => {
    const options = await post<Record<string, unknown>>('/api/v1/me/step-up/passkey-options', {}, me);
    let response: Record<string, unknown>;
    try {
      response = await assertPasskey(options);
    } catch (err) {
      throw passkeyError(err);
    }
    await post('/api/v1/me/step-up/passkey', { response }, me);
    await onProven();
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void byCode.run();
  };
  return (
    <section className="section card" aria-labelledby="stepup-heading" role="region">
      <h2 id="stepup-heading">Confirm it’s you</h2>
      <p>This change needs your second factor again.</p>
      {methods.includes('passkey') && (
        <>
          <ErrorAlert error={byPasskey.error} />
          <Button variant="primary" busy={byPasskey.busy} onClick={() => void byPasskey.run()}>
            Use a passkey
          </Button>
        </>
      )}
      {(methods.includes('totp') || methods.includes('recovery_code')) && (
        <form onSubmit={submit}>
          <TextField
            label={method === 'totp' ? 'Code from your authenticator app' : 'Recovery code'}
            inputMode={method === 'totp' ? 'numeric' : 'text'}
            autoComplete="one-time-code"
            required
            maxLength={32}
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
          <ErrorAlert error={byCode.error} />
          <Button type="submit" variant="primary" busy={byCode.busy}>
            Confirm
          </Button>
          {methods.includes('totp') && methods.includes('recovery_code') && (
            <Button variant="ghost" onClick={() => setMethod(method === 'totp' ? 'recovery_code' : 'totp')}>
              {method === 'totp' ? 'Use a recovery code' : 'Use the app'}
            </Button>
          )}
        </form>
      )}
      <Button variant="ghost" onClick={onCancel}>
        Cancel
      </Button>
    </section>
  );
}
