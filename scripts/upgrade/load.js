'use strict';
// The traffic of the upgrade test: verifications and cases through a province's load balancer while
// its replicas are replaced. Every request has a fresh connection (agent: false), so the balancer
// chooses a ready replica for each, as it would for many independent clients.
//
// Retries (docs/operations.md §9.4) — only what the protocol makes safe:
//   - a verification answered `503 ISSUER_UNREACHABLE` (the issuer's replica went away mid-call;
//     protocol.md §4.3) is asked again: a verification changes nothing at the issuer;
//   - a read (GET) or a verification whose connection failed is sent again;
//   - nothing else: opening a case or completing a task is never repeated — a failure there counts.
const http = require('node:http');
const bot = require('../lib/case-bot');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One HTTP request on a fresh connection: {status, body} (status 0 and `error` when the connection failed). */
function request(baseUrl, method, urlPath, body, token) {
  const url = new URL(baseUrl + urlPath);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent: false,
        timeout: 30_000,
        headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode, body: parsed });
        });
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    if (data) req.write(data);
    req.end();
  });
}

/** Counts per kind: ok, failed (with samples), retries (with reasons). */
function newStats() {
  return { ok: {}, failed: {}, retried: {}, samples: [] };
}
const bump = (o, k) => (o[k] = (o[k] || 0) + 1);

/**
 * Sends with the retry rule above: `retryable(res)` says whether this answer may be asked again.
 * Gives up after 10 tries (then it is a failure).
 */
async function send(stats, kind, ok, retryable, fn) {
  for (let attempt = 1; ; attempt++) {
    const res = await fn();
    if (ok(res)) {
      bump(stats.ok, kind);
      return res;
    }
    if (attempt < 10 && retryable(res)) {
      bump(stats.retried, `${kind} ${res.status || res.error}${res.body?.code ? ' ' + res.body.code : ''}`);
      await sleep(100 * attempt);
      continue;
    }
    bump(stats.failed, kind);
    if (stats.samples.length < 20) stats.samples.push(`${kind}: ${res.status} ${res.error || JSON.stringify(res.body).slice(0, 300)}`);
    return res;
  }
}

const isIssuerUnreachable = (r) => r.status === 503 && r.body?.error?.code === 'ISSUER_UNREACHABLE';
const connectionFailed = (r) => r.status === 0;

/**
 * Starts the load: `verifiers` loops asking (each through its own province's entry) for a licence
 * of another, a case opener alternating between the two provinces, and a task robot per province.
 * `sides`: [{code, baseUrl, token}] (baseUrl = the province's balancer). Returns {stop(), stats, cases}.
 */
function startLoad(sides, items, licences, o = {}) {
  const stats = newStats();
  const cases = new Map();
  let stopped = false;
  let openingStopped = false;
  const loops = [];
  const itemList = [...items.values()].filter((i) => i.roles.length >= 2);
  // Verifications: each province asks about the other's licences (gRPC between them) and its own (local).
  for (const from of sides) {
    for (const l of licences) {
      loops.push(
        (async () => {
          while (!stopped) {
            await send(
              stats,
              `verify ${from.code}→${l.issuer}`,
              (r) => r.status === 200,
              (r) => isIssuerUnreachable(r) || connectionFailed(r),
              () => request(from.baseUrl, 'POST', '/v1/verifications', l.body, from.token),
            );
            await sleep(o.verifyPauseMs ?? 50);
          }
        })(),
      );
    }
  }
  // Cases: opened alternately at each province, with the other as participant.
  loops.push(
    (async () => {
      let i = 0;
      while (!stopped && !openingStopped) {
        const owner = sides[i % sides.length];
        const other = sides[(i + 1) % sides.length];
        const item = itemList[i % itemList.length];
        i++;
        const res = await send(
          stats,
          `open case at ${owner.code}`,
          (r) => r.status === 201,
          () => false,
          () => request(owner.baseUrl, 'POST', '/v1/cases', bot.caseBody(item, owner.code, [other.code]), owner.token),
        );
        if (res.status === 201) cases.set(res.body.collaborationId, { owner: owner.code, participants: [...new Set(Object.values(res.body.participants))] });
        await sleep(o.casePauseMs ?? 300);
      }
    })(),
  );
  // Robots: complete every open task at each province (reads retried, completions never).
  for (const side of sides) {
    loops.push(
      (async () => {
        while (!stopped) {
          const list = await send(
            stats,
            `list tasks at ${side.code}`,
            (r) => r.status === 200,
            connectionFailed,
            () => request(side.baseUrl, 'GET', '/v1/tasks?status=ASSIGNED,ACCEPTED&limit=200', undefined, side.token),
          );
          for (const t of list.status === 200 ? list.body.tasks : []) {
            const step = items.get(t.itemCode)?.steps[t.index];
            if (!step || t.caseState !== 'OPEN') continue;
            await send(
              stats,
              `complete task at ${side.code}`,
              (r) => r.status === 200,
              () => false,
              () => request(side.baseUrl, 'POST', `/v1/tasks/${t.id}/complete`, { outputs: bot.outputsFor(step, t.id) }, side.token),
            );
          }
          await sleep(200);
        }
      })(),
    );
  }
  return {
    stats,
    cases,
    /** Stops opening cases; verifications and robots go on (robots must finish the open cases). */
    stopOpening: () => (openingStopped = true),
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

module.exports = { request, startLoad, send, newStats };
