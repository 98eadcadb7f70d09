/**
 * A reader for Latchkey's revocation stream (`GET {issuer}/api/v1/revocations/stream`, server-sent
 * events): it stays connected, reconnects with capped exponential backoff, and resumes from the
 * last event id it applied. Built on `fetch` streaming; no EventSource dependency.
 */

// Limits, in one place.

/** Reconnection delay when the server has not suggested one (`retry:`). */
export const STREAM_RETRY_MS = 1_000;
/** A server-suggested delay is held to [min, max]; consecutive failures double it up to the max. */
export const STREAM_MIN_RETRY_MS = 100;
export const STREAM_MAX_BACKOFF_MS = 30_000;
/** How long to wait for the stream's response headers. */
export const STREAM_CONNECT_TIMEOUT_MS = 10_000;
/** Latchkey sends a keep-alive comment every 15 s: three missed ones mean the connection is dead. */
export const STREAM_IDLE_TIMEOUT_MS = 45_000;
/** A longer unterminated line ends the connection (a broken or hostile peer). */
export const STREAM_MAX_LINE_CHARS = 64 * 1024;

export type RevocationKind = 'token' | 'user' | 'org';

/** `token`: SHA-256 hex of a revoked token; `user` / `org`: whose credentials changed. */
export interface RevocationEvent {
  readonly kind: RevocationKind;
  readonly value: string;
}

export type StreamState = 'connecting' | 'connected' | 'down';

export interface RevocationSubscriberOptions {
  /** The stream's URL. */
  url: string;
  /** The `Authorization` header to send (HTTP Basic with the resource's id:secret). */
  authorization: string;
  fetch: typeof fetch;
  /** Called for each event, before its id counts as seen. */
  onRevoked(event: RevocationEvent): void;
  /** Called on every change of state; `detail` says why, and never holds a credential. */
  onState(state: StreamState, detail: string): void;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

export interface RevocationSubscriber {
  readonly state: StreamState;
  /** The id of the last event applied, sent as `Last-Event-ID` on reconnection. */
  readonly lastEventId: string | null;
  /** Stops reading and cancels any pending reconnection. */
  close(): void;
}

const KINDS: ReadonlySet<string> = new Set<RevocationKind>(['token', 'user', 'org']);

interface SseHandlers {
  dispatch(type: string, data: string | null, lastEventId: string | null): void;
  retry(ms: number): void;
}

/**
 * An incremental `text/event-stream` parser (WHATWG HTML §9.2.6): feed it decoded text in any
 * chunking; it calls `dispatch` at each blank line and `retry` for each valid `retry:` field.
 * Events without data still report the last event id, as the spec's dispatch step does.
 */
export function sseParser(h: SseHandlers, initialLastEventId: string | null = null) {
  let buf = '';
  let skipLf = false;
  let type = '';
  let data: string[] = [];
  let idBuffer = initialLastEventId;

  const line = (l: string) => {
    if (l === '') {
      const id = idBuffer;
      const t = type || 'message';
      const d = data.length > 0 ? data.join('\n') : null;
      type = '';
      data = [];
      h.dispatch(t, d, id);
      return;
    }
    if (l.startsWith(':')) return; // a comment, e.g. `: keep-alive`
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) idBuffer = value === '' ? null : value;
    else if (field === 'retry' && /^\d{1,9}$/.test(value)) h.retry(Number(value));
  };

  return {
    push(chunk: string): void {
      if (skipLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
      if (chunk !== '') skipLf = false;
      buf += chunk;
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        line(buf.slice(start, i));
        if (c === 13) {
          if (i + 1 === buf.length) skipLf = true;
          else if (buf.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      buf = buf.slice(start);
      if (buf.length > STREAM_MAX_LINE_CHARS) throw new RangeError('an event-stream line is too long');
    },
  };
}

/** The event's payload, or null when it is not one this SDK understands (skipped, not fatal). */
function revocationOf(data: string): RevocationEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { kind, value } = v as { kind?: unknown; value?: unknown };
  if (typeof kind !== 'string' || !KINDS.has(kind) || typeof value !== 'string' || value === '') return null;
  return { kind: kind as RevocationKind, value: kind === 'token' ? value.toLowerCase() : value };
}

/** Connects at once and keeps reading until `close()`. */
export function subscribeRevocations(o: RevocationSubscriberOptions): RevocationSubscriber {
  const random = o.random ?? Math.random;
  let state: StreamState = 'connecting';
  let last: string | null = null;
  let closed = false;
  let failures = 0;
  let retryMs = STREAM_RETRY_MS;
  let abort: AbortController | null = null;
  let reconnect: ReturnType<typeof setTimeout> | null = null;

  const set = (s: StreamState, detail: string) => {
    if (closed || s === state) return;
    state = s;
    o.onState(s, detail);
  };

  const parser = () =>
    sseParser(
      {
        dispatch(type, data, id) {
          if (type === 'revoked' && data !== null) {
            const e = revocationOf(data);
            if (e) o.onRevoked(e);
          }
          if (id !== null) last = id;
        },
        retry(ms) {
          retryMs = Math.min(STREAM_MAX_BACKOFF_MS, Math.max(STREAM_MIN_RETRY_MS, ms));
        },
      },
      last,
    );

  const schedule = () => {
    if (closed) return;
    failures++;
    const base = Math.min(STREAM_MAX_BACKOFF_MS, retryMs * 2 ** Math.min(failures - 1, 16));
    reconnect = setTimeout(connect, Math.round(base * (0.5 + random() / 2)));
    reconnect.unref();
  };

  async function connect(): Promise<void> {
    reconnect = null;
    if (closed) return;
    set('connecting', 'reconnecting');
    const controller = new AbortController();
    abort = controller;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number) => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(), ms);
      idle.unref();
    };
    let detail = 'the stream ended';
    try {
      arm(STREAM_CONNECT_TIMEOUT_MS);
      const headers: Record<string, string> = {
        authorization: o.authorization,
        accept: 'text/event-stream',
        'cache-control': 'no-store',
      };
      if (last !== null) headers['last-event-id'] = last;
      const res = await o.fetch(o.url, { headers, signal: controller.signal });
      const type = res.headers.get('content-type') ?? '';
      if (res.status !== 200 || !/^text\/event-stream\b/i.test(type) || !res.body) {
        detail = `Latchkey answered ${res.status}`;
        await res.body?.cancel().catch(() => {});
        return;
      }
      failures = 0;
      set('connected', 'connected');
      arm(STREAM_IDLE_TIMEOUT_MS);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const events = parser();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        arm(STREAM_IDLE_TIMEOUT_MS);
        events.push(decoder.decode(chunk.value, { stream: true }));
      }
    } catch (err) {
      detail =
        controller.signal.aborted && !closed
          ? 'no data within the time limit'
          : err instanceof RangeError
            ? err.message
            : 'the connection failed';
    } finally {
      clearTimeout(idle);
      controller.abort(); // releases a body left unread after an error; a no-op once it ended
      if (abort === controller) abort = null;
      if (!closed) {
        set('down', detail);
        schedule();
      }
    }
  }

  void connect();

  return {
    get state() {
      return state;
    },
    get lastEventId() {
      return last;
    },
    close() {
      if (closed) return;
      closed = true;
      if (reconnect) clearTimeout(reconnect);
      reconnect = null;
      abort?.abort();
      abort = null;
    },
  };
}
