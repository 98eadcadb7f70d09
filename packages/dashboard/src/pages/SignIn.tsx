import { type FormEvent, useState } from 'react';
import { post } from '../api';
import { ErrorAlert, Notice } from '../components/Alert';
import { Button } from '../components/Button';
import { TextField } from '../components/Field';
import { Tabs } from '../components/Tabs';
import { Logo } from '../components/Logo';
import { useAction } from '../hooks';

type Mode = 'signin' | 'signup' | 'link';

const TABS = [
  { id: 'signin', label: 'Sign in' },
  { id: 'signup', label: 'Create account' },
  { id: 'link', label: 'Email link' },
] as const;

/** The signed-out screen: password sign-in, sign-up, or a magic link that brings the person back here. */
export function SignIn({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [mode, setMode] = useState<Mode>('signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [done, setDone] = useState<string | null>(null);

  const action = useAction(async () => {
    if (mode === 'signin') {
      await post('/api/auth/signin', { email, password }, { org: null });
      await onSignedIn();
    } else if (mode === 'signup') {
      const out = await post<{ user?: unknown; detail?: string }>(
        '/api/auth/signup',
        { email, password, name },
        { org: null },
      );
      if (out && 'user' in out && out.user) await onSignedIn();
      else
        setDone(
          out?.detail ??
            'Your request is on the waitlist. You will get an email when an operator approves it.',
        );
    } else {
      const returnTo = window.location.pathname.startsWith('/app')
        ? window.location.pathname + window.location.search
        : '/app/';
      const out = await post<{ detail?: string }>(
        '/api/auth/magic-link',
        { email, return_to: returnTo },
        { org: null },
      );
      setDone(
        out?.detail ??
          'If an account can use this address, a sign-in link is on its way. It works once, for 15 minutes.',
      );
    }
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    void action.run();
  };
  const select = (id: string) => {
    setMode(id as Mode);
    setDone(null);
    action.clear();
  };
  const label = mode === 'signin' ? 'Sign in' : mode === 'signup' ? 'Create account' : 'Send the link';
  const busyLabel =
    mode === 'signin' ? 'Signing in…' : mode === 'signup' ? 'Creating your account…' : 'Sending…';

  return (
    <div className="center-screen">
      <main className="card narrow auth-card">
        <div className="auth-brand">
          <Logo />
        </div>
        <h1 className="sr-only">Sign in to Latchkey</h1>
        <Tabs tabs={TABS} current={mode} onSelect={select} label="How to sign in" idBase="auth" />
        <form id="auth-panel" role="tabpanel" aria-labelledby={`auth-${mode}`} onSubmit={submit}>
          {mode === 'signup' && (
            <TextField
              label="Your name"
              name="name"
              autoComplete="name"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
          <TextField
            label="Email"
            name="email"
            type="email"
            autoComplete="email"
            required
            maxLength={254}
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          {mode !== 'link' && (
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
              required
              minLength={mode === 'signup' ? 10 : undefined}
              maxLength={256}
              hint={
                mode === 'signup' ? 'At least 10 characters. A few unrelated words work well.' : undefined
              }
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
          <ErrorAlert error={action.error} />
          {done && (
            <Notice tone="success">
              <p>{done}</p>
            </Notice>
          )}
          <Button type="submit" variant="primary" className="btn-block" busy={action.busy}>
            {action.busy ? busyLabel : label}
          </Button>
        </form>
        <p className="muted small center">
          Other ways to sign in, such as single sign-on, are on the{' '}
          <a href="/login?return_to=%2Fapp%2F">sign-in page</a>.
        </p>
      </main>
    </div>
  );
}
