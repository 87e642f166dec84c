'use strict';
// Department robots for soak and benchmark runs: they find a gateway's open tasks through its
// local API and complete (or sometimes refuse) them with valid outputs for the step.
const { createHash, randomBytes } = require('node:crypto');
const { call } = require('./federation');

/** Valid outputs for a catalogue step. */
function outputsFor(step, tag) {
  const out = {};
  for (const o of step.outputs) {
    if (!o.required && Math.random() < 0.5) continue;
    if (o.kind === 'FILE_HASH')
      out[o.name] = createHash('sha256')
        .update(tag + o.name)
        .digest('hex');
    else if (o.kind === 'DATE') out[o.name] = new Date().toISOString().slice(0, 10);
    else if (o.kind === 'DOCUMENT_NUMBER') out[o.name] = `DOC-${randomBytes(4).toString('hex').toUpperCase()}`;
    else out[o.name] = `text ${tag.slice(-6)}`;
  }
  return out;
}

/**
 * One pass over `gw`'s open tasks. Returns how many were acted on.
 * @param {object} gw gateway handle (scripts/lib/federation.js)
 * @param {Map<string, object>} items catalogue items by code
 * @param {{refuseRate?: number, stats?: {polls: number, found: number}, call?: typeof call}} o `stats` counts task-list
 *   polls and the polls that found tasks (the cases benchmark takes their database cost out); `call`
 *   replaces federation.js's client (the cases benchmark passes lean-http.js's)
 */
async function workOnce(gw, items, o = {}) {
  const send = o.call || call;
  const r = await send(gw, 'GET', '/v1/tasks?status=ASSIGNED,ACCEPTED&limit=500');
  if (o.stats) o.stats.polls++;
  if (r.status !== 200) return 0;
  if (o.stats && r.body.tasks.length) o.stats.found++;
  let n = 0;
  await Promise.all(
    r.body.tasks.map(async (t) => {
      const step = items.get(t.itemCode)?.steps[t.index];
      if (!step || t.caseState !== 'OPEN') return;
      const refuse = step.mayRefuse && Math.random() < (o.refuseRate || 0);
      const res = refuse ? await send(gw, 'POST', `/v1/tasks/${t.id}/refuse`, { reason: 'robot refusal' }) : await send(gw, 'POST', `/v1/tasks/${t.id}/complete`, { outputs: outputsFor(step, t.id) });
      if (res.status === 200) n++;
    }),
  );
  return n;
}

/** Starts a loop working `gw`'s tasks every `intervalMs` until `stop()` is called. */
function startBot(getGateway, items, o = {}) {
  let stopped = false;
  let done = 0;
  const loop = (async () => {
    while (!stopped) {
      try {
        done += await workOnce(getGateway(), items, o);
      } catch {
        // The gateway may be down (a soak kills it); try again next round.
      }
      await new Promise((r) => setTimeout(r, o.intervalMs || 50));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return done;
    },
  };
}

/** The catalogue items of a gateway, by code. */
async function catalogueItems(gw) {
  const r = await call(gw, 'GET', '/admin/catalogue', undefined, gw.adminToken);
  return new Map(r.body.items.map((i) => [i.code, i]));
}

/** A valid `POST /v1/cases` body for `item` with the accepting role at `accepting`. */
function caseBody(item, accepting, others) {
  const participants = {};
  let k = 0;
  for (const role of item.roles) participants[role] = role === item.acceptingRole ? accepting : others[k++ % others.length];
  return {
    itemCode: item.code,
    applicant: { name: '测试申请人', idNumber: '11010519491231002X' },
    participants,
    materials: item.materials.filter((m) => m.required).map((m) => ({ code: m.code })),
    receivedAt: { office: '测试窗口', clerk: 'robot', channel: 'WINDOW' },
  };
}

module.exports = { outputsFor, workOnce, startBot, catalogueItems, caseBody };
