import { useCallback } from 'react';
import { Button } from './components/Button';
import { ErrorAlert } from './components/Alert';
import { Loading } from './components/States';
import { ToastProvider } from './components/Toast';
import { SignIn } from './pages/SignIn';
import { SessionProvider, useBoot } from './session';
import { Shell } from './Shell';

export function App() {
  const { boot, load, setBoot } = useBoot();
  const signedOut = useCallback(() => setBoot({ state: 'signed-out' }), [setBoot]);

  if (boot.state === 'loading')
    return (
      <div className="center-screen">
        <Loading label="Opening Latchkey…" />
      </div>
    );
  if (boot.state === 'error')
    return (
      <div className="center-screen">
        <main className="card narrow">
          <h1>Latchkey</h1>
          <ErrorAlert error={boot.error} />
          <Button variant="primary" onClick={() => void load()}>
            Try again
          </Button>
        </main>
      </div>
    );
  if (boot.state === 'signed-out') return <SignIn onSignedIn={() => load()} />;
  return (
    <ToastProvider>
      <SessionProvider boot={boot} load={load} onSignedOut={signedOut}>
        <Shell />
      </SessionProvider>
    </ToastProvider>
  );
}
