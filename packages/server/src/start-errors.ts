/**
 * What a start that cannot reach its database or Redis says: which URL (without its password),
 * why, and what to check — one sentence on stderr instead of a driver's bare error.
 */

export class StartError extends Error {
  override readonly name = 'StartError';
}

/** The URL as it may be printed: the password (and a username-only secret) replaced by `***`. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username && u.protocol.startsWith('redis')) u.username = '***';
    return u.href;
  } catch {
    return '(an invalid URL)';
  }
}

const HINTS = {
  PostgreSQL:
    'check that PostgreSQL is running and reachable there, and that DATABASE_URL names the right host, port, database, user and password',
  Redis:
    'check that Redis is running and reachable there, and that REDIS_URL names the right host, port and password',
} as const;

/** Runs the first step that talks to a service; a failure becomes a `StartError` naming the service. */
export async function reaching<T>(
  service: keyof typeof HINTS,
  url: string,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const why =
      err instanceof Error ? err.message || (err as { code?: string }).code || err.name : String(err);
    throw new StartError(
      `cannot connect to ${service} at ${withoutPassword(url)} (${why}): ${HINTS[service]}`,
    );
  }
}
