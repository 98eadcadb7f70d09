import { type FormEvent, useState } from 'react';
import { get, put } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { TextField } from '../components/Field';
import { Loadable } from '../components/States';
import { useToast } from '../components/Toast';
import { formatDateTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { Link } from '../router';
import { useSession } from '../session';
import type { OrgMfa } from '@latchkey/contract';

/** Organisation settings → "Require two-factor": members without a factor enrol at their next sign-in. */
export function OrgMfaSettings() {
  const { org, can } = useSession();
  const state = useLoad(() => get<OrgMfa>('/api/v1/org/mfa'), [org?.id]);
  const [required, setRequired] = useState<boolean | null>(null);
  const [grace, setGrace] = useState<string | null>(null);
  const toast = useToast();
  const s = state.data;
  const on = required ?? s?.mfa_required ?? false;
  const days = grace ?? String(s?.grace_days ?? 7);
  const save = useAction(async () => {
    const out = await put<OrgMfa>('/api/v1/org/mfa', { mfa_required: on, grace_days: Number(days) });
    state.set(() => out);
    setRequired(null);
    setGrace(null);
    toast(
      out.mfa_required ? 'Two-factor sign-in is now required.' : 'Two-factor sign-in is no longer required.',
    );
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save.run();
  };
  const editable = can('org:update');
  return (
    <section className="section card" aria-labelledby="mfa-heading">
      <h2 id="mfa-heading">Require two-factor sign-in</h2>
      <Loadable loading={state.loading && !s} error={state.error} retry={state.reload}>
        {s && (
          <form onSubmit={submit}>
            <p className="muted">
              Members without an authenticator app or a passkey set one up at their next sign-in. Their tokens
              and sessions keep working here during the grace period, then are refused until they do.
            </p>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={on}
                disabled={!editable}
                onChange={(e) => setRequired(e.target.checked)}
              />{' '}
              Require two-factor sign-in for every member
            </label>
            {on && (
              <TextField
                label="Grace period (days)"
                type="number"
                min={0}
                max={90}
                required
                disabled={!editable}
                value={days}
                onChange={(e) => setGrace(e.target.value)}
              />
            )}
            {s.mfa_required && s.grace_ends_at && (
              <Notice tone="info">
                <p>
                  Required since {formatDateTime(s.required_at!)}; members without a factor are refused from{' '}
                  {formatDateTime(s.grace_ends_at)}.
                </p>
              </Notice>
            )}
            <ErrorAlert error={save.error}>
              {(save.error as { code?: string } | null | undefined)?.code === 'mfa_enrolment_required' && (
                <p>
                  <Link to="/account/security">Add a second factor to your account</Link> first.
                </p>
              )}
            </ErrorAlert>
            {editable ? (
              <Button
                type="submit"
                variant="primary"
                busy={save.busy}
                disabled={on === s.mfa_required && Number(days) === s.grace_days}
              >
                Save
              </Button>
            ) : (
              <p className="muted">Only admins and owners change this.</p>
            )}
          </form>
        )}
      </Loadable>
    </section>
  );
}
