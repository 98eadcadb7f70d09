import type { Config } from '../../config/index.js';
import type { Clock } from '../../lib/clock.js';
import { outboundPolicy } from '../../lib/outbound-fetch.js';
import { githubProvider } from './github.js';
import { googleProvider } from './google.js';
import type { ProviderId, SocialProvider } from './provider.js';

/** Every provider Latchkey knows, in the order the login page shows them. */
export const PROVIDER_IDS: readonly ProviderId[] = ['github', 'google'];

export const PROVIDER_NAMES: Readonly<Record<ProviderId, string>> = { github: 'GitHub', google: 'Google' };

export function isProviderId(v: unknown): v is ProviderId {
  return typeof v === 'string' && (PROVIDER_IDS as readonly string[]).includes(v);
}

/**
 * The providers this instance has a client id and secret for. Their requests resolve names with
 * the `DNS_SERVERS` resolver and reach only public addresses (or the loopback stand-in an
 * operator setting names).
 */
export function configuredProviders(
  config: Pick<Config, 'github' | 'google' | 'dnsServers'>,
  clock: Clock,
): ReadonlyMap<ProviderId, SocialProvider> {
  const out = new Map<ProviderId, SocialProvider>();
  const net = outboundPolicy(config, false);
  if (config.github) out.set('github', githubProvider(config.github, net));
  if (config.google)
    out.set(
      'google',
      googleProvider(config.google, net, () => clock.now().getTime()),
    );
  return out;
}

/** The providers whose buttons the login page shows. */
export function enabledProviderIds(config: Pick<Config, 'github' | 'google'>): ProviderId[] {
  return PROVIDER_IDS.filter((id) => config[id] !== null);
}
