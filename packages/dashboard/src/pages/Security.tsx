import { useState } from 'react';
import { get } from '../api';
import { Notice } from '../components/Alert';
import { PageHeader } from '../components/PageHeader';
import { Loadable } from '../components/States';
import { useLoad } from '../hooks';
import { Authenticator } from './security/Authenticator';
import { Passkeys } from './security/Passkeys';
import { RecoveryCodes, RegenerateCodes } from './security/RecoveryCodes';
import { StepUp, useStepUp } from './security/StepUp';
import { type MfaState, me } from './security/types';
import '../styles/security.css';

/** The account's second factors: the authenticator app, passkeys and recovery codes, behind step-up. */
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
