import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Caps the connections one client address may hold open at once: a connection beyond the cap is
 * closed as soon as it is accepted, so one client cannot use up the server's descriptors with
 * idle or slow connections. The address is the TCP peer's (behind a load balancer, the
 * balancer's: raise the cap or set 0 there). Returns how many connections are open per address,
 * for tests and metrics.
 */
export function capConnectionsPerAddress(server: Server, max: number): ReadonlyMap<string, number> {
  const open = new Map<string, number>();
  if (max <= 0) return open;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = open.get(address) ?? 0;
    if (n >= max) {
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
  return open;
}
