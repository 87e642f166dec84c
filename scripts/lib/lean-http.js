'use strict';
// A lean JSON client for benchmark load (node:http with a keep-alive agent): the same requests as
// federation.js's `call` (fetch), at a fraction of the client's CPU. On a two-core machine the load
// generator shares the cores with the gateways it measures; fetch cost ≈ 300 µs more CPU per request
// than this (docs/performance.md, "Eleventh session"), about 1 ms per case in bench:cases.
// Same result shape as `call`: { status, body (parsed JSON, or the text), headers }.
const http = require('node:http');

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function once(gw, method, urlPath, payload, token) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token || gw.apiToken}` };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = http.request(gw.baseUrl + urlPath, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode, body, headers: res.headers });
      });
    });
    req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket })));
    req.end(payload);
  });
}

/** One request; a GET whose kept-alive socket the server had just closed is sent again once (node's documented race). */
async function leanCall(gw, method, urlPath, body, token) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  try {
    return await once(gw, method, urlPath, payload, token);
  } catch (e) {
    if (method === 'GET' && e.reusedSocket && e.code === 'ECONNRESET') return once(gw, method, urlPath, payload, token);
    throw e;
  }
}

module.exports = { leanCall };
