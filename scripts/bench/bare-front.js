'use strict';
// Bare baseline, asking side: a node:http server. Per POST /v1/verifications: parse the JSON body,
// one Ed25519 sign of an envelope-like JWS, one raw @grpc/grpc-js unary call to bare-issuer.js,
// one Ed25519 verify of the reply, then answer JSON. No framework. Config: BARE_CONFIG.
const crypto = require('node:crypto');
const http = require('node:http');
const { digest, loadService, readConfig, signJws, verifyJws } = require('./bare-common');

const cfg = readConfig();
const { grpc, Bare } = loadService(cfg.protoFile);
// Mutual TLS like the gateways (unless the config says plaintext); the server certificate is
// accepted by chain only, as the gateway's participant check is a string comparison.
const creds = cfg.tls ? grpc.credentials.createSsl(cfg.tls.front.ca, cfg.tls.front.key, cfg.tls.front.cert, { checkServerIdentity: () => undefined }) : grpc.credentials.createInsecure();
const client = new Bare(`127.0.0.1:${cfg.issuerGrpcPort}`, creds, { 'grpc.keepalive_time_ms': 30_000, ...(cfg.tls ? { 'grpc.ssl_target_name_override': 'bare-issuer' } : {}) });
const expectedAuth = `Bearer ${cfg.apiToken}`;
const MAX_BODY = 64 * 1024;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(res, raw) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return send(res, 400, { error: { code: 'VALIDATION_FAILED', message: 'body must be JSON' } });
  }
  if (!body || typeof body.licenceId !== 'string' || typeof body.licenceType !== 'string' || typeof body.purpose !== 'string') {
    return send(res, 400, { error: { code: 'VALIDATION_FAILED', message: 'licenceId, licenceType and purpose are required' } });
  }
  const queryId = crypto.randomUUID();
  const payload = Buffer.from(JSON.stringify({ queryId, licenceType: body.licenceType, licenceId: body.licenceId, holder: body.holder ?? {}, purpose: body.purpose }), 'utf8');
  const iat = Math.floor(Date.now() / 1000);
  const jti = crypto.randomUUID();
  const jws = signJws(cfg.frontPrivate, 'bare-front', 'bare-envelope', { iss: cfg.askerCode, aud: cfg.issuerCode, jti, iat, exp: iat + 120, dig: digest(payload) });
  client.Verify({ jws, payload }, { deadline: Date.now() + 3000 }, (err, reply) => {
    if (err) return send(res, 502, { error: { code: 'ISSUER_REJECTED', message: err.details || err.message } });
    try {
      const { claims } = verifyJws(reply.jws, cfg.issuerPublic, 'bare-envelope');
      if (claims.iss !== cfg.issuerCode || claims.aud !== cfg.askerCode || claims.rto !== jti) throw new Error('reply does not answer the request');
      if (digest(reply.payload) !== claims.dig) throw new Error('reply digest');
      const answer = JSON.parse(reply.payload.toString('utf8'));
      if (answer.queryId !== queryId) throw new Error('reply query id');
      send(res, 200, { requestId: queryId, status: answer.status, holderMatch: answer.holderMatch, licence: answer.licence, issuer: answer.issuer, checkedAt: answer.checkedAt });
    } catch (e) {
      send(res, 502, { error: { code: 'ISSUER_RESPONSE_INVALID', message: e.message } });
    }
  });
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/verifications') return send(res, 404, { error: { code: 'NOT_FOUND', message: 'no route' } });
  if (req.headers.authorization !== expectedAuth) return send(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'token' } });
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => handle(res, Buffer.concat(chunks).toString('utf8')));
});
server.keepAliveTimeout = 72_000;
server.listen(cfg.httpPort, '127.0.0.1', () => process.send?.({ type: 'ready' }));

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections?.();
  client.close();
  setTimeout(() => process.exit(0), 200).unref();
});
