import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

/** Client-side routes live under /app/; the server answers every one of them with index.html. */
export const BASE = '/app';

const listeners = new Set<() => void>();
function subscribe(fn: () => void) {
  listeners.add(fn);
  window.addEventListener('popstate', fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener('popstate', fn);
  };
}
const snapshot = () => window.location.pathname + window.location.search;

export interface Location {
  /** The route without the /app prefix: `/members`, `/` … */
  path: string;
  query: URLSearchParams;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, window.location.origin);
  const rest = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
  return { path: rest === '' ? '/' : rest, query: url.searchParams };
}

export function href(to: string): string {
  return `${BASE}${to.startsWith('/') ? to : `/${to}`}`;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const target = href(to);
  if (target === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  for (const fn of listeners) fn();
}

/** Changes the query string of the current route (filters, tabs) without a history entry per keystroke. */
export function setQuery(values: Record<string, string | null>, opts: { replace?: boolean } = {}): void {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === '') url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  const rest = url.pathname.slice(BASE.length) || '/';
  navigate(`${rest}${url.search}`, opts);
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

export function Link({ to, onClick, ...rest }: LinkProps) {
  const go = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={href(to)} onClick={go} {...rest} />;
}
