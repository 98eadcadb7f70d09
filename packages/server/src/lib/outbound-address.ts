/** Address checks for outbound requests: public unicast or not, loopback hosts and URLs. */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

type AddressClass = 'public' | 'loopback' | 'forbidden';

/** The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(v6: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (p.slice(0, 6).every((g) => g === 0) && (p[6] !== 0 || p[7]! > 1)) return v4(p[6]!, p[7]!); // ::a.b.c.d
  if (v6.match(NAT64_WELL_KNOWN)) return v4(p[6]!, p[7]!);
  if (v6.range() === '6to4') return v4(p[1]!, p[2]!);
  return null;
}

function classify(ip: string): AddressClass {
  // Only canonical textual addresses: `127.1` and friends are for the URL parser to normalise.
  if (isIP(ip) === 0 || !ipaddr.isValid(ip)) return 'forbidden';
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    const inner = embeddedV4(v6);
    if (!inner) {
      const range = v6.range();
      if (range === 'loopback') return 'loopback';
      return range === 'unicast' && v6.match(GLOBAL_UNICAST_V6) ? 'public' : 'forbidden';
    }
    addr = inner;
  }
  const range = (addr as ipaddr.IPv4).range();
  if (range === 'loopback') return 'loopback';
  return range === 'unicast' ? 'public' : 'forbidden';
}

/** Whether a connection to `ip` must be refused: anything but a public unicast address. */
export function isForbiddenAddress(ip: string, allowLoopback: boolean): boolean {
  const c = classify(ip);
  return c === 'forbidden' || (c === 'loopback' && !allowLoopback);
}

/** The host of a URL without IPv6 brackets. */
export function bareHost(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  return isIP(host) !== 0 && classify(host) === 'loopback';
}

/**
 * Whether a URL names a loopback host (`localhost`, 127/8, `::1`): for settings the operator
 * wrote, where pointing at a local stand-in is their choice (social providers in tests).
 */
export function isLoopbackUrl(raw: string): boolean {
  try {
    return isLoopbackHost(bareHost(new URL(raw)));
  } catch {
    return false;
  }
}
