import { AddressInfo } from 'node:net';
import { ConfigError, StandInLibraryConfig, loadStandInLibraryConfig } from '@tongban/config';
import { standInServer } from './stand-in-server';
import { StandInStore } from './stand-in-store';

/**
 * A STAND-IN for a province's 电子证照 (electronic licence) library, for `npm start` and the tests:
 * serves the demo licences under its own field names, lets its administrator change a status, and
 * publishes the changes as a feed. Not part of a gateway; a real province runs its own system.
 */
function main(): void {
  let config: StandInLibraryConfig;
  try {
    config = loadStandInLibraryConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`licence-library (stand-in): configuration error: ${e.message}\n`);
      process.exit(78);
    }
    throw e;
  }
  const store = new StandInStore(config.seedFile, config.stateFile);
  const server = standInServer(store, config);
  server.listen(config.port, config.host, () => {
    const port = (server.address() as AddressInfo).port;
    process.stdout.write(`licence-library (stand-in): listening on http://${config.host}:${port}${config.testDelayMs ? `, answering lookups ${config.testDelayMs} ms late (test setting)` : ''}\n`);
    process.send?.({ type: 'ready', port });
  });
  // A gateway keeps its connection to the library alive between lookups: close() alone would wait
  // for it to time out (seconds). A stand-in has nothing to drain, so every connection is closed now.
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
