import * as oauth from 'oauth4webapi';
import { outboundFetcher } from '../lib/outbound-fetcher.js';
import type { OutboundPolicy } from '../lib/outbound-fetch.js';

/**
 * Options for every oauth4webapi request to a provider (discovery, token, JWKS, an API): each goes
 * through the guarded outbound fetch (`lib/outbound-fetch.ts`) under `net`, gives up after
 * `timeoutMs`, and may use plain http only where `url` is http — which the guarded fetch allows
 * only when `net` allows loopback.
 */
export function requestOptions(url: string, net: OutboundPolicy, timeoutMs: number) {
  return {
    signal: AbortSignal.timeout(timeoutMs),
    [oauth.customFetch]: outboundFetcher({ ...net, timeoutMs }),
    ...(new URL(url).protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}
