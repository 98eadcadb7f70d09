import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';
import type { Page } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Replaces the data in place (after a change the page already knows the outcome of). */
  set(update: (prev: T | undefined) => T | undefined): void;
}

/** Loads once per change of `deps`; a slower, older answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    loadRef.current().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => live && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const set = useCallback(
    (update: (prev: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { ...state, reload, set };
}

export interface Paged<T> {
  items: T[];
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore(): void;
  reload(): void;
  remove(pred: (item: T) => boolean): void;
  update(pred: (item: T) => boolean, patch: (item: T) => T): void;
  prepend(item: T): void;
}

/** A cursor-paginated list: the first page on each change of `deps`, more with `loadMore`. */
export function usePaged<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  deps: DependencyList,
): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const generation = useRef(0);

  useEffect(() => {
    const gen = ++generation.current;
    setLoading(true);
    setError(null);
    fetchRef.current(null).then(
      (p) => {
        if (gen !== generation.current) return;
        setItems(p.data);
        setCursor(p.next_cursor);
        setLoading(false);
      },
      (err: unknown) => {
        if (gen !== generation.current) return;
        setItems([]);
        setCursor(null);
        setError(err);
        setLoading(false);
      },
    );
  }, [...deps, tick]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore) return;
    const gen = generation.current;
    setLoadingMore(true);
    setError(null);
    fetchRef.current(cursor).then(
      (p) => {
        if (gen !== generation.current) return;
        setItems((prev) => [...prev, ...p.data]);
        setCursor(p.next_cursor);
        setLoadingMore(false);
      },
      (err: unknown) => {
        if (gen !== generation.current) return;
        setError(err);
        setLoadingMore(false);
      },
    );
  }, [cursor, loadingMore]);

  return {
    items,
    loading,
    loadingMore,
    error,
    hasMore: cursor !== null,
    loadMore,
    reload: useCallback(() => setTick((n) => n + 1), []),
    remove: useCallback((pred: (item: T) => boolean) => setItems((prev) => prev.filter((i) => !pred(i))), []),
    update: useCallback(
      (pred: (item: T) => boolean, patch: (item: T) => T) =>
        setItems((prev) => prev.map((i) => (pred(i) ? patch(i) : i))),
      [],
    ),
    prepend: useCallback((item: T) => setItems((prev) => [item, ...prev]), []),
  };
}

export interface Action<A extends unknown[]> {
  run(...args: A): Promise<boolean>;
  busy: boolean;
  error: unknown;
  clear(): void;
}

/** A user-triggered request: `busy` while it runs, `error` when it fails; `run` resolves to success. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await fnRef.current(...args);
      return true;
    } catch (err) {
      if (mounted.current) setError(err);
      return false;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  return { run, busy, error, clear: useCallback(() => setError(null), []) };
}
