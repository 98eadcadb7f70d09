/** Step-up: a sensitive change the server refuses until the second factor is proven again. */
import { type FormEvent, useState } from 'react';
import { ApiProblem, post } from '../../api';
import { ErrorAlert } from '../../components/Alert';
import { Button } from '../../components/Button';
import { TextField } from '../../components/Field';
import { useAction } from '../../hooks';
import { assertPasskey, passkeyError } from '../../webauthn';
import { me } from './types';

export type Guard = (fn: () => Promise<unknown>) => Promise<void>;

/**
 * Runs a sensitive change; when the server answers `step_up_required`, asks for the second factor
 * (the StepUp form below), then runs it again.
 */
export function useStepUp() {
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

/** Proves the second factor again (step-up) before a sensitive change. */
export function StepUp({
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
