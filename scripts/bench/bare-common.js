'use strict';
// Shared pieces of the bare baseline (bare-front.js, bare-issuer.js): the tiny inline proto,
// compact Ed25519 JWS sign/verify with node:crypto, and the config file both processes read.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const BARE_PROTO = `syntax = "proto3";
package bare.v1;
message Envelope {
  string jws = 1;
  bytes payload = 2;
}
service Bare {
  rpc Verify (Envelope) returns (Envelope);
}
`;

/** Writes the inline proto into `dir` and returns its path. */
function writeProto(dir) {
  const file = path.join(dir, 'bare.proto');
  fs.writeFileSync(file, BARE_PROTO);
  return file;
}

/** Loads the Bare service definition with proto-loader. */
function loadService(protoFile) {
  const grpc = require('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader');
  const def = loader.loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true });
  return { grpc, Bare: grpc.loadPackageDefinition(def).bare.v1.Bare };
}

const b64 = (buf) => Buffer.from(buf).toString('base64url');

/** base64url(SHA-256(bytes)). */
function digest(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('base64url');
}

/** Compact JWS over `claims` with an Ed25519 private KeyObject (one sign). */
function signJws(privateKey, kid, typ, claims) {
  const input = `${b64(JSON.stringify({ alg: 'EdDSA', kid, typ }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${crypto.sign(null, Buffer.from(input, 'ascii'), privateKey).toString('base64url')}`;
}

/** Verifies a compact JWS with an Ed25519 public KeyObject (one verify); returns {header, claims} or throws. */
function verifyJws(jws, publicKey, typ) {
  if (typeof jws !== 'string' || jws.length > 4096) throw new Error('bad jws');
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('bad jws');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (header.alg !== 'EdDSA' || header.typ !== typ) throw new Error('bad header');
  const ok = crypto.verify(null, Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), publicKey, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new Error('bad signature');
  return { header, claims: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) };
}

/** Reads the config file named by BARE_CONFIG and turns PEM keys into KeyObjects. */
function readConfig() {
  const cfg = JSON.parse(fs.readFileSync(process.env.BARE_CONFIG, 'utf8'));
  return {
    ...cfg,
    tls: cfg.tls ? { issuer: tlsFiles(cfg.tls.issuer), front: tlsFiles(cfg.tls.front) } : null,
    frontPrivate: crypto.createPrivateKey(cfg.keys.frontPrivatePem),
    frontPublic: crypto.createPublicKey(cfg.keys.frontPublicPem),
    issuerPrivate: crypto.createPrivateKey(cfg.keys.issuerPrivatePem),
    issuerPublic: crypto.createPublicKey(cfg.keys.issuerPublicPem),
  };
}

/** Certificate chain, decrypted key and CA of one side (files from `tongban tls issue`). */
function tlsFiles(t) {
  const key = crypto.createPrivateKey({ key: fs.readFileSync(t.keyFile, 'utf8'), passphrase: t.keyPassphrase });
  return { cert: fs.readFileSync(t.certFile), key: Buffer.from(key.export({ format: 'pem', type: 'pkcs8' })), ca: fs.readFileSync(t.caFile) };
}

/** Fresh Ed25519 key pairs for the two bare processes, as PEM. */
function newBareKeys() {
  const pem = (k) => ({
    privatePem: k.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    publicPem: k.publicKey.export({ format: 'pem', type: 'spki' }),
  });
  const front = pem(crypto.generateKeyPairSync('ed25519'));
  const issuer = pem(crypto.generateKeyPairSync('ed25519'));
  return { frontPrivatePem: front.privatePem, frontPublicPem: front.publicPem, issuerPrivatePem: issuer.privatePem, issuerPublicPem: issuer.publicPem };
}

module.exports = { BARE_PROTO, writeProto, loadService, digest, signJws, verifyJws, readConfig, newBareKeys };
