import { type FormEvent, useEffect, useState } from 'react';
import { get, patch } from '../../api';
import { ErrorAlert, Notice } from '../../components/Alert';
import { Button } from '../../components/Button';
import { TextField } from '../../components/Field';
import { Loadable } from '../../components/States';
import { useToast } from '../../components/Toast';
import { useAction, useLoad } from '../../hooks';
import { useSession } from '../../session';
import type { SsoSettings } from '@latchkey/contract';

/** Whether members must sign in through SSO, and where to send them when it is down. */
export function Enforcement() {
  const { org } = useSession();
  const current = useLoad(() => get<SsoSettings>('/api/v1/org/sso'), [org?.id]);
  const [enforced, setEnforced] = useState(false);
  const [statusUrl, setStatusUrl] = useState('');
  const toast = useToast();
  const s = current.data;
  useEffect(() => {
    if (!s) return;
    setEnforced(s.sso_enforced);
    setStatusUrl(s.status_page_url ?? '');
  }, [s]);
  const action = useAction(async () => {
    const next = await patch<SsoSettings>('/api/v1/org/sso', {
      sso_enforced: enforced,
      status_page_url: statusUrl.trim() || null,
    });
    current.set(() => next);
    toast(
      next.enforcement_active
        ? 'SSO settings saved. Members must sign in with SSO.'
        : next.sso_enforced
          ? 'SSO settings saved. Enforcement starts once a connection is enabled.'
          : 'SSO settings saved.',
    );
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };
  const changed = !!s && (enforced !== s.sso_enforced || (statusUrl.trim() || null) !== s.status_page_url);
  return (
    <section className="section card" aria-labelledby="sso-enforcement">
      <h2 id="sso-enforcement">Enforcement</h2>
      <Loadable loading={current.loading && !s} error={current.error} retry={current.reload}>
        {s && (
          <form onSubmit={submit}>
            {s.enforcement_active ? (
              <Notice tone="success">
                <p>SSO is enforced: members sign in only through an enabled connection.</p>
              </Notice>
            ) : s.sso_enforced ? (
              <Notice tone="warning">
                <p>SSO is required, but no connection is enabled, so members still sign in as before.</p>
              </Notice>
            ) : null}
            <div className="field">
              <label className="checkbox">
                <input type="checkbox" checked={enforced} onChange={(e) => setEnforced(e.target.checked)} />
                <span>
                  <strong>Require SSO for members</strong>
                  <span className="muted small">
                    {' '}
                    Passwords and email links stop working for members while a connection is enabled.
                  </span>
                </span>
              </label>
            </div>
            <TextField
              label="Status page URL (optional)"
              type="url"
              maxLength={2000}
              value={statusUrl}
              onChange={(e) => setStatusUrl(e.target.value)}
              hint="Shown to people when the identity provider cannot be reached."
              spellCheck={false}
            />
            <ErrorAlert error={action.error} />
            <Button type="submit" variant="primary" busy={action.busy} disabled={!changed}>
              {action.busy ? 'Saving…' : 'Save SSO settings'}
            </Button>
          </form>
        )}
      </Loadable>
    </section>
  );
}
