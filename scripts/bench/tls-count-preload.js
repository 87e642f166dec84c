'use strict';
// Preloaded (`node -r`) into a gateway by cold-cost.js: counts TLS work in the process so that a
// benchmark can say how many client handshakes and secure contexts a gateway paid for, and the
// CPU time spent building secure contexts. Answers {type:'bench:tls:count'} with
// {type:'bench:tls:counts', ...}. Wraps only node:tls functions; changes no behaviour.
const tls = require('node:tls');

const counts = { secureContexts: 0, secureContextCpuMs: 0, clientConnects: 0, clientSessionsReused: 0, serverHandshakes: 0, serverSessionsReused: 0 };
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const realCreateSecureContext = tls.createSecureContext;
tls.createSecureContext = function countedCreateSecureContext(...args) {
  const t = cpuMs();
  try {
    return realCreateSecureContext.apply(this, args);
  } finally {
    counts.secureContexts++;
    counts.secureContextCpuMs += cpuMs() - t;
  }
};
const realConnect = tls.connect;
tls.connect = function countedConnect(...args) {
  const socket = realConnect.apply(this, args);
  counts.clientConnects++;
  socket.once('secureConnect', () => {
    if (socket.isSessionReused()) counts.clientSessionsReused++;
  });
  return socket;
};
const realEmit = tls.Server.prototype.emit;
tls.Server.prototype.emit = function countedEmit(event, socket, ...rest) {
  if (event === 'secureConnection') {
    counts.serverHandshakes++;
    if (socket?.isSessionReused?.()) counts.serverSessionsReused++;
  }
  return realEmit.call(this, event, socket, ...rest);
};
process.on('message', (m) => {
  if (m && m.type === 'bench:tls:count') process.send({ type: 'bench:tls:counts', ...counts, secureContextCpuMs: +counts.secureContextCpuMs.toFixed(2) });
});
process.channel?.unref();
