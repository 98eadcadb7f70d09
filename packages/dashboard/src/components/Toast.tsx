import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';

interface Toast {
  id: number;
  text: string;
}

const Ctx = createContext<(text: string) => void>(() => undefined);

/** Confirms a finished action in a polite live region ("Role changed."). */
export function useToast(): (text: string) => void {
  return useContext(Ctx);
}

const SHOW_MS = 5000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(0);
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());
  useEffect(() => {
    const all = timers.current;
    return () => all.forEach(clearTimeout);
  }, []);
  const show = useCallback((text: string) => {
    const id = ++next.current;
    setToasts((t) => [...t.slice(-2), { id, text }]);
    const timer = setTimeout(() => {
      timers.current.delete(timer);
      setToasts((t) => t.filter((x) => x.id !== id));
    }, SHOW_MS);
    timers.current.add(timer);
  }, []);
  return (
    <Ctx.Provider value={show}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <p key={t.id} className="toast">
            {t.text}
          </p>
        ))}
      </div>
    </Ctx.Provider>
  );
}
