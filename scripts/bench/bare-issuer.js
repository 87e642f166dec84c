'use strict';
// Bare baseline, issuer side: a raw @grpc/grpc-js server. Per call: one Ed25519 verify of the
// request envelope, one indexed SQLite lookup (better-sqlite3 prepared statement), one Ed25519
// sign of the reply. No framework. Config: BARE_CONFIG (JSON file written by verify-bench.js).
const crypto = require('node:crypto');
const Database = require('better-sqlite3');
const { digest, loadService, readConfig, signJws, verifyJws } = require('./bare-common');

const cfg = readConfig();
const { grpc, Bare } = loadService(cfg.protoFile);
const db = new Database(cfg.sqlitePath, { readonly: true, fileMustExist: true });
const byId = db.prepare('SELECT * FROM licences WHERE licence_id = ?');

function statusOf(row, nowMs) {
  if (row.status !== 'VALID') return row.status;
  const today = new Date(nowMs + 8 * 3600_000).toISOString().slice(0, 10);
  return row.valid_until && row.valid_until < today ? 'EXPIRED' : 'VALID';
}

function normaliseName(name) {
  return String(name)
    .normalize('NFKC')
    .replace(/[\s·•・]/g, '');
}

function verify(call, callback) {
  try {
    const { jws, payload } = call.request;
    const { claims } = verifyJws(jws, cfg.frontPublic, 'bare-envelope');
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== cfg.issuerCode || claims.iss !== cfg.askerCode) throw new Error('wrong parties');
    if (now > claims.exp + 60 || claims.iat > now + 60) throw new Error('expired');
    if (digest(payload) !== claims.dig) throw new Error('digest');
    const q = JSON.parse(payload.toString('utf8'));
    const row = byId.get(q.licenceId);
    const nowMs = Date.now();
    const found = row && row.type_code === q.licenceType ? row : undefined;
    const claimedCode = q.holder?.idNumber ? { type: '111', value: String(q.holder.idNumber).toUpperCase() } : q.holder?.creditCode ? { type: '001', value: q.holder.creditCode } : undefined;
    const answer = {
      queryId: q.queryId,
      status: found ? statusOf(found, nowMs) : 'NOT_FOUND',
      holderMatch: {
        name: found && q.holder?.name ? (normaliseName(q.holder.name) === normaliseName(found.holder_name) ? 'MATCH' : 'MISMATCH') : 'NOT_CHECKED',
        code: found && claimedCode ? (claimedCode.type === found.holder_code_type && claimedCode.value === found.holder_code ? 'MATCH' : 'MISMATCH') : 'NOT_CHECKED',
      },
      licence: found ? { licenceType: found.type_code, licenceName: found.name, licenceNumber: found.number, licenceId: found.licence_id, issueDate: found.issue_date } : {},
      issuer: { province: cfg.issuerCode, organName: found?.issuer_organ_name ?? null, organCode: found?.issuer_organ_code ?? null },
      checkedAt: new Date(nowMs).toISOString(),
    };
    const replyPayload = Buffer.from(JSON.stringify(answer), 'utf8');
    const iat = Math.floor(nowMs / 1000);
    const reply = signJws(cfg.issuerPrivate, 'bare-issuer', 'bare-envelope', {
      iss: cfg.issuerCode,
      aud: claims.iss,
      jti: crypto.randomUUID(),
      iat,
      exp: iat + 120,
      dig: digest(replyPayload),
      rto: claims.jti,
    });
    callback(null, { jws: reply, payload: replyPayload });
  } catch (e) {
    callback({ code: grpc.status.PERMISSION_DENIED, details: String(e.message) });
  }
}

const server = new grpc.Server();
server.addService(Bare.service, { Verify: verify });
const creds = cfg.tls ? grpc.ServerCredentials.createSsl(cfg.tls.issuer.ca, [{ private_key: cfg.tls.issuer.key, cert_chain: cfg.tls.issuer.cert }], true) : grpc.ServerCredentials.createInsecure();
server.bindAsync(`127.0.0.1:${cfg.grpcPort}`, creds, (err) => {
  if (err) {
    process.stderr.write(`bare issuer: ${err.message}\n`);
    process.exit(1);
  }
  process.send?.({ type: 'ready' });
});

process.once('SIGTERM', () => {
  server.tryShutdown(() => {
    db.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 2000).unref();
});
