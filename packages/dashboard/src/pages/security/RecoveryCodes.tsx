/** Recovery codes: generating a new set, and showing a fresh set once. */
import { useState } from 'react';
import { post } from '../../api';
import { Notice } from '../../components/Alert';
import { Button } from '../../components/Button';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import type { Guard } from './StepUp';
import { me } from './types';

export function RegenerateCodes({ guard, onCodes }: { guard: Guard; onCodes: (codes: string[]) => void }) {
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

export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
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
