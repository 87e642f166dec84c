import { connect } from 'node:net';

/** True when something accepts a TCP connection on host:port within `ms`. */
function answers(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (up: boolean) => {
      s.destroy();
      resolve(up);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The ports of the configured gateway that answer (HTTP, gRPC, health): a restore refuses while any
 * does. A wildcard listen address is probed on the loopback address.
 */
export async function runningGatewayPorts(ports: { what: string; host: string; port: number | null }[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of ports) {
    if (!p.port) continue;
    const host = ['0.0.0.0', '::', ''].includes(p.host) ? '127.0.0.1' : p.host;
    if (await answers(host, p.port, 1000)) found.push(`${p.what} ${host}:${p.port}`);
  }
  return found;
}
