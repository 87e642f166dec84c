import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { TEST_PORTS, freePort } from './federation';

// Gateways under test listen on ports from freePort. A port the kernel may give an outgoing
// connection could be taken between the check and the bind, or while a gateway restarts on it.
it('draws ports below the kernel ephemeral range, each one bindable', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  expect(TEST_PORTS[1]).toBeLessThan(ephemeralLow);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(TEST_PORTS[0]);
    expect(port).toBeLessThanOrEqual(TEST_PORTS[1]);
  }
  // Drawn at random: twenty draws from thousands of ports are not all one port.
  expect(new Set(ports).size).toBeGreaterThan(1);
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
  await new Promise((r) => srv.close(r));
});
