import { type FormEvent, useState } from 'react';
import { get, patch, post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { TextField } from '../components/Field';
import { PageHeader } from '../components/PageHeader';
import { useToast } from '../components/Toast';
import { useAction, useLoad } from '../hooks';
import { useSession } from '../session';
import type { User } from '@latchkey/contract';
import { DeleteAccount, EmailChange, ExportData } from './AccountData';
import { Identities } from './Identities';
import { Sessions } from './Sessions';

export function Account() {
  const { me, features } = useSession();
  const identities = useLoad(
    () =>
      features.has('/api/v1/me/identities')
        ? get<{ has_password: boolean }>('/api/v1/me/identities', { org: null })
        : Promise.resolve(null),
    [],
  );
  const [sessionsVersion, setSessionsVersion] = useState(0);
  return (
    <>
      <PageHeader title="Your account">Signed in as {me.user?.email}.</PageHeader>
      <ProfileForm />
      <PasswordForm
        hasPassword={identities.data?.has_password ?? true}
        onChanged={() => setSessionsVersion((v) => v + 1)}
      />
      {features.has('/api/v1/me/email') && <EmailChange />}
      {features.has('/api/v1/me/identities') && <Identities />}
      <Sessions key={sessionsVersion} />
      {features.has('/api/v1/me/export') && <ExportData />}
      {features.has('/api/v1/me/export') && <DeleteAccount />}
    </>
  );
}

function ProfileForm() {
  const { me, refresh } = useSession();
  const [name, setName] = useState(me.user?.name ?? '');
  const toast = useToast();
  const action = useAction(async () => {
    await patch<User>('/api/v1/me', { name: name.trim() }, { org: null });
    await refresh();
    toast('Your name was saved.');
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run();
  };
  return (
    <section className="section card" aria-labelledby="profile-heading">
      <h2 id="profile-heading">Profile</h2>
      <form onSubmit={submit}>
        <TextField
          label="Name"
          autoComplete="name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <TextField
          label="Email"
          type="email"
          value={me.user?.email ?? ''}
          readOnly
          hint="To change it, use Email address below."
        />
        <ErrorAlert error={action.error} />
        <Button
          type="submit"
          variant="primary"
          busy={action.busy}
          disabled={name.trim() === me.user?.name || !name.trim()}
        >
          {action.busy ? 'Saving…' : 'Save name'}
        </Button>
      </form>
    </section>
  );
}

function PasswordForm({ hasPassword, onChanged }: { hasPassword: boolean; onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState<number | null>(null);
  const mismatch = again !== '' && next !== again;
  const action = useAction(async () => {
    const out = await post<{ revoked_sessions: number }>(
      '/api/auth/password',
      { ...(hasPassword ? { current_password: current } : {}), new_password: next },
      { org: null },
    );
    setCurrent('');
    setNext('');
    setAgain('');
    setDone(out.revoked_sessions);
    onChanged();
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    if (!mismatch) void action.run();
  };
  return (
    <section className="section card" aria-labelledby="password-heading">
      <h2 id="password-heading">{hasPassword ? 'Change password' : 'Set a password'}</h2>
      <p className="muted">Changing it signs you out everywhere else and revokes your personal tokens.</p>
      <form onSubmit={submit}>
        {hasPassword && (
          <TextField
            label="Current password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={256}
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        )}
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          maxLength={256}
          hint="At least 10 characters."
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
        <TextField
          label="New password again"
          type="password"
          autoComplete="new-password"
          required
          maxLength={256}
          value={again}
          onChange={(e) => setAgain(e.target.value)}
          aria-invalid={mismatch || undefined}
          hint={mismatch ? 'The two passwords are not the same.' : undefined}
        />
        <ErrorAlert error={action.error} />
        {done !== null && (
          <Notice tone="success">
            <p>
              Password changed.{' '}
              {done > 0
                ? `${done} other ${done === 1 ? 'session was' : 'sessions were'} signed out.`
                : 'No other sessions were open.'}
            </p>
          </Notice>
        )}
        <Button type="submit" variant="primary" busy={action.busy} disabled={mismatch}>
          {action.busy ? 'Changing…' : hasPassword ? 'Change password' : 'Set password'}
        </Button>
      </form>
    </section>
  );
}
