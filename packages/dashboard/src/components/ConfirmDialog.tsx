import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { useAction } from '../hooks';
import { ErrorAlert } from './Alert';
import { Button } from './Button';
import { Dialog } from './Dialog';

export interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** Shown on the button while the action runs ("Revoking…"). */
  busyLabel?: string;
  danger?: boolean;
  /** When set, the person must type this text before the button enables. */
  typed?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

/** "Are you sure?" for anything that cannot be undone; stays open and says why when the action fails. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busyLabel,
  danger = true,
  typed,
  onConfirm,
  onClose,
}: ConfirmProps) {
  const action = useAction(onConfirm);
  const [text, setText] = useState('');
  const formId = useId();
  const inputId = useId();
  const ready = typed === undefined || text.trim() === typed;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!ready) return;
    if (await action.run()) onClose();
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      locked={action.busy}
      footer={
        <>
          <Button onClick={onClose} disabled={action.busy}>
            Cancel
          </Button>
          <Button
            type="submit"
            form={formId}
            variant={danger ? 'danger' : 'primary'}
            busy={action.busy}
            disabled={!ready}
          >
            {action.busy ? (busyLabel ?? 'Working…') : confirmLabel}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit}>
        <div className="confirm-text">{children}</div>
        {typed !== undefined && (
          <div className="field">
            <label htmlFor={inputId}>
              Type <strong className="mono">{typed}</strong> to confirm
            </label>
            <input
              id={inputId}
              value={text}
              onChange={(e) => setText(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              data-autofocus
            />
          </div>
        )}
        <ErrorAlert error={action.error} />
      </form>
    </Dialog>
  );
}
