/**
 * Whether PostgreSQL itself answered `err` with an ErrorResponse (a SQLSTATE and a severity), as
 * the embedded driver throws it, in this thread or from the database thread. Such an error ends the
 * implicit transaction of the statements it answers by rolling it back: nothing of them committed,
 * so each may run again alone. Any other failure (reading or splitting the answers, a lost
 * thread) may have come after the commit, and running again would do the work twice.
 */
export function isPostgresError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === 'string' && typeof e.severity === 'string';
}
