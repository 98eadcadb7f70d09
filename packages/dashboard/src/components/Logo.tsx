export function Logo() {
  return (
    <span className="logo">
      <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
        <circle cx="8" cy="12" r="5" fill="none" stroke="currentColor" strokeWidth="2.5" />
        <path d="M13 12h9M19 12v4M16 12v3" stroke="currentColor" strokeWidth="2.5" fill="none" />
      </svg>
      <span className="logo-text">Latchkey</span>
    </span>
  );
}
