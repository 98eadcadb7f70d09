import { type FormEvent, useState } from 'react';
import { ApiProblem, del, get, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { TextField } from '../components/Field';
import { useAction } from '../hooks';
import { useSession } from '../session';

/** Account → Profile: move the account to another address (proven by a link mailed there). */
export function EmailChange() {
  const { me } = useSession();
  const [email, setEmail] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const action = useAction(async () => {
    await post('/api/v1/me/email', { email: email.trim() }, { org: null });
    setSentTo(email.trim());
    setEmail('');
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSentTo(null);
    void action.run();
  };
  const stepUp = action.error instanceof ApiProblem && action.error.code === 'step_up_required';
  return (
    <section className="section card" aria-labelledby="email-heading">
      <h2 id="email-heading">Email address</h2>
      <p>
        Your account uses <strong>{me.user?.email}</strong>. To move it to another address, enter the new one:
        we mail it a link, and the change is made when you open it. Your current address is told when it
        happens.
      </p>
      <form onSubmit={submit}>
        <TextField
          label="New email address"
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <ErrorAlert error={action.error}>
          {stepUp && (
            <p>
              <a href="/login/second-factor?step_up=1&amp;return_to=%2Fapp%2Faccount">
                Prove your second factor
              </a>
              , then try again.
            </p>
          )}
        </ErrorAlert>
        {sentTo && (
          <Notice tone="success">
            <p>
              A link is on its way to <strong>{sentTo}</strong>. Open it to finish the change; until then
              nothing changes.
            </p>
          </Notice>
        )}
        <Button type="submit" variant="primary" busy={action.busy} disabled={!email.trim()}>
          {action.busy ? 'Sending…' : 'Send the confirmation link'}
        </Button>
      </form>
    </section>
  );
}

/** Account → Profile: download everything Latchkey holds about you. */
export function ExportData() {
  const action = useAction(async () => {
    const data = await get<unknown>('/api/v1/me/export', { org: null });
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `latchkey-export-${new Date().toISOString().slice(0, 10)}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  });
  return (
    <section className="section card" aria-labelledby="export-heading">
      <h2 id="export-heading">Your data</h2>
      <p>
        Download everything Latchkey holds about you as JSON: your profile, organisations and roles, sessions,
        the metadata of your tokens (never the tokens themselves), connected apps, linked accounts and your
        activity.
      </p>
      <ErrorAlert error={action.error} />
      <Button busy={action.busy} onClick={() => void action.run()}>
        {action.busy ? 'Preparing…' : 'Download my data'}
      </Button>
    </section>
  );
}

/** Account → Profile: delete the account, after typing its address again. */
export function DeleteAccount() {
  const { me } = useSession();
  const [open, setOpen] = useState(false);
  const email = me.user?.email ?? '';
  return (
    <section className="section card danger-zone" aria-labelledby="delete-account-heading">
      <h2 id="delete-account-heading">Delete your account</h2>
      <p>
        Every session, token and connected app of yours stops working at once, and organisations where you are
        the only member are deleted with it. If you are the only owner of an organisation that has other
        members, make someone else an owner first. This cannot be undone.
      </p>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Delete account…
      </Button>
      {open && (
        <ConfirmDialog
          title="Delete your account?"
          confirmLabel="Delete my account"
          busyLabel="Deleting…"
          typed={email}
          onConfirm={async () => {
            await del('/api/v1/me', { org: null, body: { confirm: email } });
            window.location.assign('/login');
          }}
          onClose={() => setOpen(false)}
        >
          <p>Your sessions, tokens and connected apps stop working, and the account cannot be recovered.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
