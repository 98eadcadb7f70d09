import {
  type KeyboardEvent,
  type MouseEvent,
  type ReactNode,
  type SyntheticEvent,
  useEffect,
  useId,
  useRef,
} from 'react';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export interface DialogProps {
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Buttons at the bottom. */
  footer?: ReactNode;
  /** A side panel instead of a centred box; a click outside it closes it. */
  drawer?: boolean;
  /** While true (a request is running) Escape and outside clicks do not close it. */
  locked?: boolean;
  wide?: boolean;
}

/**
 * A modal dialog on the native `<dialog>`: the page behind is inert, Tab and Shift+Tab stay
 * inside, Escape closes, and focus goes back to where it was when the dialog closes.
 */
export function Dialog({
  title,
  onClose,
  children,
  footer,
  drawer = false,
  locked = false,
  wide = false,
}: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const lockedRef = useRef(locked);
  lockedRef.current = locked;

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const previous = document.activeElement as HTMLElement | null;
    el.showModal();
    const first =
      el.querySelector<HTMLElement>('[autofocus], [data-autofocus]') ??
      el.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      el.close();
      if (previous?.isConnected) previous.focus();
    };
  }, []);

  const onCancel = (e: SyntheticEvent) => {
    e.preventDefault();
    if (!lockedRef.current) onClose();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDialogElement>) => {
    if (e.key !== 'Tab' || !ref.current) return;
    const items = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (n) => n.offsetParent !== null,
    );
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  const onClick = (e: MouseEvent<HTMLDialogElement>) => {
    // A click on the backdrop lands on the <dialog> element itself.
    if (drawer && e.target === ref.current && !lockedRef.current) onClose();
  };

  return (
    <dialog
      ref={ref}
      className={`dialog${drawer ? ' drawer' : ''}${wide ? ' dialog-wide' : ''}`}
      aria-labelledby={titleId}
      onCancel={onCancel}
      onKeyDown={onKeyDown}
      onClick={onClick}
    >
      <div className="dialog-inner">
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button
            type="button"
            className="icon-btn"
            aria-label="Close"
            onClick={() => !locked && onClose()}
            disabled={locked}
          >
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
              <path
                d="M6 6l12 12M18 6L6 18"
                stroke="currentColor"
                strokeWidth="2"
                fill="none"
                strokeLinecap="round"
              />
            </svg>
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        {footer && <footer className="dialog-footer">{footer}</footer>}
      </div>
    </dialog>
  );
}
