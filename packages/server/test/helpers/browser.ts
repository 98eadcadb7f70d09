import type { LightMyRequestResponse } from 'fastify';
import { PUBLIC_URL, type TestServer } from './harness.js';

/**
 * A browser for social sign-in tests: talks to Latchkey in-process (inject) and to the
 * stand-in providers over real HTTP, keeps a cookie jar per site, and follows redirects by
 * hand, so a test sees each hop. Sends our Origin on unsafe requests to Latchkey, like a page.
 */
export class Browser {
  /** Cookies by site: `latchkey`, or a provider's origin. */
  readonly jars = new Map<string, Map<string, string>>();
  constructor(
    readonly t: TestServer,
    readonly ip = `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  ) {}

  private jar(site: string): Map<string, string> {
    let j = this.jars.get(site);
    if (!j) this.jars.set(site, (j = new Map()));
    return j;
  }

  cookie(name: string): string | undefined {
    return this.jar('latchkey').get(name);
  }

  private header(site: string): string {
    return [...this.jar(site)].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(site: string, setCookies: string[]) {
    for (const c of setCookies) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=thu, 01 jan 1970/i.test(a));
      if (value === '' || expired) this.jar(site).delete(name);
      else this.jar(site).set(name, value);
    }
  }

  /** One request to Latchkey. */
  async latchkey(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<LightMyRequestResponse> {
    const path = url.startsWith(PUBLIC_URL) ? url.slice(PUBLIC_URL.length) : url;
    const headers: Record<string, string> = {};
    const cookie = this.header('latchkey');
    if (cookie) headers.cookie = cookie;
    if (method !== 'GET') headers.origin = PUBLIC_URL;
    const res = await this.t.app.inject({
      method,
      url: path,
      headers,
      remoteAddress: this.ip,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    const set = res.headers['set-cookie'];
    this.remember('latchkey', set === undefined ? [] : Array.isArray(set) ? set : [set]);
    return res;
  }

  /** One GET to a provider over HTTP. */
  async provider(url: string): Promise<{ status: number; location: string | null; body: string }> {
    const site = new URL(url).origin;
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: this.header(site) } });
    this.remember(site, res.headers.getSetCookie());
    const location = res.headers.get('location');
    return {
      status: res.status,
      location: location ? new URL(location, url).href : null,
      body: await res.text(),
    };
  }

  /**
   * Follows redirects from a provider URL until the browser is sent back to Latchkey; returns
   * that URL without opening it (so a test can tamper with it or open it elsewhere).
   */
  async throughProvider(url: string): Promise<string> {
    let next = url;
    for (let hop = 0; hop < 10; hop++) {
      if (next.startsWith(PUBLIC_URL)) return next;
      const r = await this.provider(next);
      if (!r.location) throw new Error(`provider stopped at ${next}: ${r.status} ${r.body.slice(0, 300)}`);
      next = r.location;
    }
    throw new Error('too many redirects at the provider');
  }

  /** Starts a sign-in at Latchkey and returns the provider URL it redirects to. */
  async start(provider: 'github' | 'google', returnTo?: string): Promise<LightMyRequestResponse> {
    const q = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
    return this.latchkey('GET', `/api/auth/oauth/${provider}/start${q}`);
  }

  /** The whole sign-in: start, the provider's pages, the callback. Returns the callback's answer. */
  async signInWith(provider: 'github' | 'google', returnTo?: string): Promise<LightMyRequestResponse> {
    const start = await this.start(provider, returnTo);
    if (start.statusCode !== 302) return start;
    const back = await this.throughProvider(String(start.headers.location));
    return this.latchkey('GET', back);
  }
}

/** The `error` a redirect to the login page carries, or null when it went elsewhere. */
export function loginError(res: LightMyRequestResponse): string | null {
  const loc = res.headers.location;
  if (res.statusCode !== 303 || typeof loc !== 'string' || !loc.startsWith('/login?')) return null;
  return new URL(loc, PUBLIC_URL).searchParams.get('error');
}
