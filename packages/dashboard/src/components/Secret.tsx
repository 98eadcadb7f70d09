import { useId, useRef, useState } from 'react';
import { Notice } from './Alert';
import { Button } from './Button';

/** Copies text; falls back to selecting it where the clipboard API is not available. */
async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.select();
    return false;
  }
}

export function CopyField({
  label,
  value,
  secret = false,
}: {
  label: string;
  value: string;
  secret?: boolean;
}) {
  const id = useId();
  const ref = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<'idle' | 'copied' | 'select'>('idle');
  const copy = async () => setState((await copyText(value, ref.current)) ? 'copied' : 'select');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input
          id={id}
          ref={ref}
          className={`mono${secret ? ' secret-value' : ''}`}
          value={value}
          readOnly
          spellCheck={false}
          onFocus={(e) => e.currentTarget.select()}
          data-testid={secret ? 'secret-value' : undefined}
        />
        <Button onClick={copy} aria-label={`Copy ${label.toLowerCase()}`}>
          {state === 'copied' ? 'Copied' : 'Copy'}
        </Button>
      </div>
      <p className="hint" aria-live="polite">
        {state === 'copied'
          ? 'Copied to the clipboard.'
          : state === 'select'
            ? 'Selected: press Ctrl+C (⌘C on a Mac) to copy.'
            : ''}
      </p>
    </div>
  );
}

/** A secret that the server shows once: the value, a copy button and the warning. */
export function SecretOnce({ label, value }: { label: string; value: string }) {
  return (
    <>
      <Notice tone="warning" title="Copy it now: it is shown only once">
        <p>Latchkey keeps only a hash of it. If you lose it, revoke it and make a new one.</p>
      </Notice>
      <CopyField label={label} value={value} secret />
    </>
  );
}
