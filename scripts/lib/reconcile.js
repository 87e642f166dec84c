'use strict';
// The reconciliation rule of the soaks and the simulation: a case in a final state at its owner must
// look the same at every participant, with no step completed twice.

/**
 * Problems between the owner's view of case `id` and every participant's view (`views`: participant
 * code → the case as GET /v1/cases/{id} answered there, or undefined when it could not be read).
 */
function replicaProblems(id, owner, views) {
  const o = views[owner];
  const problems = [];
  for (const [p, v] of Object.entries(views)) {
    if (!v) {
      problems.push(`${id}: unreadable at ${p}`);
      continue;
    }
    if (v.state !== o.state) problems.push(`${id}: ${p} says ${v.state}, owner ${owner} says ${o.state}`);
    const a = v.steps.map((s) => s.status).join(',');
    const b = o.steps.map((s) => s.status).join(',');
    if (a !== b) problems.push(`${id}: steps at ${p} [${a}] differ from owner [${b}]`);
    const completions = v.events.filter((e) => e.type === 'STEP_COMPLETED').map((e) => e.stepIndex);
    if (new Set(completions).size !== completions.length) problems.push(`${id}: a step completed twice at ${p} (${completions})`);
  }
  const completedSteps = o.steps.filter((s) => s.status === 'COMPLETED').length;
  if (o.state === 'COMPLETED' && completedSteps !== o.steps.length) problems.push(`${id}: COMPLETED with ${completedSteps}/${o.steps.length} steps`);
  return problems;
}

module.exports = { replicaProblems };
