import { type KeyboardEvent, useRef } from 'react';

export interface Tab {
  id: string;
  label: string;
}

/**
 * A tab list (ARIA tabs pattern): arrow keys, Home and End move between tabs. The panel is the
 * caller's: give it `id={`${idBase}-panel`}`, `role="tabpanel"` and `aria-labelledby={`${idBase}-${current}`}`.
 */
export function Tabs({
  tabs,
  current,
  onSelect,
  label,
  idBase,
}: {
  tabs: readonly Tab[];
  current: string;
  onSelect: (id: string) => void;
  label: string;
  idBase: string;
}) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const onKeyDown = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === current);
    const next =
      e.key === 'ArrowRight'
        ? (i + 1) % tabs.length
        : e.key === 'ArrowLeft'
          ? (i - 1 + tabs.length) % tabs.length
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? tabs.length - 1
              : -1;
    if (next < 0) return;
    e.preventDefault();
    const tab = tabs[next]!;
    onSelect(tab.id);
    refs.current[tab.id]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label={label} onKeyDown={onKeyDown}>
      {tabs.map((t) => (
        <button
          key={t.id}
          ref={(el) => {
            refs.current[t.id] = el;
          }}
          type="button"
          role="tab"
          id={`${idBase}-${t.id}`}
          aria-selected={t.id === current}
          aria-controls={`${idBase}-panel`}
          tabIndex={t.id === current ? 0 : -1}
          className="tab"
          onClick={() => onSelect(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}
