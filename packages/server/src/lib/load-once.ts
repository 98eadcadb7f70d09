/**
 * A library loaded when first needed, not at start (`import()` on first use), for the large ones
 * most instances never use. Concurrent first uses share one load; a failed load is forgotten, so
 * the next use tries again.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () =>
    (loading ??= load().catch((err: unknown) => {
      loading = null;
      throw err;
    }));
}
