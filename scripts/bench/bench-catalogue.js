'use strict';
// The catalogue of the case benchmarks (bench:cases, bench:growth): one two-step 联办 item, accepted
// by the opener's province and processed by the other, with one required output.
const BENCH_CATALOGUE = {
  version: 'bench-2step',
  items: [
    {
      code: 'BENCH_JOINT_2',
      name: '基准测试联办事项',
      department: '基准测试',
      modes: ['JOINT'],
      roles: ['ACCEPTING', 'PROCESSING'],
      acceptingRole: 'ACCEPTING',
      steps: [
        { role: 'ACCEPTING', action: 'ACCEPT', name: '受理', timeLimitWorkingDays: 1, inputs: [], outputs: [], mayRefuse: false, needsApplicantId: false, needsMaterials: false },
        {
          role: 'PROCESSING',
          action: 'PROCESS',
          name: '办理',
          timeLimitWorkingDays: 5,
          inputs: [],
          outputs: [{ name: 'doc_no', kind: 'DOCUMENT_NUMBER', required: true }],
          mayRefuse: false,
          needsApplicantId: false,
          needsMaterials: false,
        },
      ],
      materials: [],
    },
  ],
};

/** A `POST /v1/cases` body for BENCH_JOINT_2, accepted at `accepting` and processed at `processing`. */
function benchCaseBody(accepting, processing) {
  return {
    itemCode: 'BENCH_JOINT_2',
    applicant: { name: '基准', idNumber: '11010519491231002X' },
    participants: { ACCEPTING: accepting, PROCESSING: processing },
    materials: [],
    receivedAt: { office: 'bench', clerk: 'bench', channel: 'ONLINE' },
  };
}

module.exports = { BENCH_CATALOGUE, benchCaseBody };
