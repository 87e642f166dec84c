import { join } from 'node:path';
import fc from 'fast-check';
import { CatalogueError } from './catalogue-error';
import { ServiceCatalogue, loadCatalogue } from './service-catalogue';

const SHIPPED = join(__dirname, '..', '..', '..', 'data', 'catalogue.json');

/** A minimal valid document with the 户口迁移 shape, built fresh for each mutation. */
function doc() {
  const out = (name: string, kind = 'DOCUMENT_NUMBER', required = true) => ({ name, kind, required });
  const step = (role: string, action: string, inputs: string[], outputs: ReturnType<typeof out>[], timeLimitWorkingDays = 5) => ({
    role,
    action,
    name: '步骤',
    timeLimitWorkingDays,
    inputs,
    outputs,
    mayRefuse: false,
    needsApplicantId: true,
    needsMaterials: false,
  });
  return {
    version: 'test-1',
    items: [
      {
        code: 'HUKOU_WORK_TRANSFER',
        name: '工作调动户口迁移',
        department: '公安部',
        modes: ['JOINT'],
        roles: ['DESTINATION', 'ORIGIN'],
        acceptingRole: 'DESTINATION',
        steps: [
          step('DESTINATION', 'ACCEPT_AND_APPROVE', [], [out('approval_no')]),
          step('ORIGIN', 'DEREGISTER', ['approval_no'], [out('migration_certificate_no'), out('migration_certificate_hash', 'FILE_HASH', false)]),
          step('DESTINATION', 'COMPLETE_REGISTRATION', ['migration_certificate_no'], [], 2),
        ],
        materials: [{ code: 'HOUSEHOLD_REGISTER', name: '居民户口簿', required: true }],
      },
    ],
  };
}
type Doc = ReturnType<typeof doc>;
/** The same object, for a mutation that breaks its type on purpose (a wrong type, a misspelt or missing field). */
const loose = (o: object) => o as Record<string, unknown>;

function failure(json: unknown): CatalogueError {
  try {
    loadCatalogue(json);
  } catch (e) {
    expect(e).toBeInstanceOf(CatalogueError);
    return e as CatalogueError;
  }
  throw new Error('expected the catalogue to be rejected');
}

describe('shipped data/catalogue.json', () => {
  const cat = ServiceCatalogue.fromFile(SHIPPED);

  it('loads, at version 2026.11-1, with every required item confirmed and annotated', () => {
    expect(cat.version).toBe('2026.11-1');
    const codes = [
      'HUKOU_WORK_TRANSFER',
      'HUKOU_COLLEGE_ADMISSION',
      'HUKOU_GRADUATE',
      'HUKOU_SPOUSE',
      'HUKOU_PARENTS',
      'PENSION_TRANSFER',
      'SOCIAL_SECURITY_CARD',
      'NO_CRIMINAL_RECORD',
      'MARKET_ENTITY_REGISTRATION',
      'MARRIAGE_REGISTRATION',
    ];
    for (const code of codes) {
      const item = cat.item(code);
      expect(item).toBeDefined();
      expect(item!.confirmed).toBe(true);
      expect(item!.notes?.length).toBeGreaterThan(20);
    }
    expect(cat.items().map((i) => i.code)).toEqual(expect.arrayContaining(codes));
    expect(cat.item('NOPE')).toBeUndefined();
  });

  it('encodes the 户口迁移 rules: origin de-registers within 5 and may refuse, destination registers within 2', () => {
    for (const code of ['HUKOU_WORK_TRANSFER', 'HUKOU_COLLEGE_ADMISSION', 'HUKOU_GRADUATE', 'HUKOU_SPOUSE', 'HUKOU_PARENTS']) {
      const item = cat.item(code)!;
      expect(item.modes).toEqual(['JOINT']);
      expect(item.acceptingRole).toBe('DESTINATION');
      expect(item.steps.map((s) => [s.role, s.action, s.timeLimitWorkingDays])).toEqual([
        ['DESTINATION', 'ACCEPT_AND_APPROVE', 5],
        ['ORIGIN', 'DEREGISTER', 5],
        ['DESTINATION', 'COMPLETE_REGISTRATION', 2],
      ]);
      const deregister = item.steps[1];
      expect(deregister).toMatchObject({ inputs: ['approval_no'], mayRefuse: true, needsApplicantId: true });
      expect(deregister.outputs.map((o) => o.name)).toEqual(['migration_certificate_no', 'migration_certificate_hash']);
      expect(item.steps[2].inputs).toEqual(['migration_certificate_no']);
    }
    expect(cat.item('HUKOU_SPOUSE')!.materials.map((m) => m.name)).toContain('结婚证');
  });

  it('encodes the pension (15/15/15) and social security card (≤ 30 in all) limits', () => {
    expect(cat.item('PENSION_TRANSFER')!.steps.map((s) => s.timeLimitWorkingDays)).toEqual([15, 15, 15]);
    const card = cat.item('SOCIAL_SECURITY_CARD')!;
    expect(card.modes).toEqual(['PROXY']);
    expect(card.steps.reduce((sum, s) => sum + s.timeLimitWorkingDays, 0)).toBeLessThanOrEqual(30);
    expect(cat.item('NO_CRIMINAL_RECORD')!.steps[1]).toMatchObject({ action: 'ISSUE_CERTIFICATE', timeLimitWorkingDays: 3, mayRefuse: true });
    expect(cat.item('MARRIAGE_REGISTRATION')!.steps[1]).toMatchObject({ role: 'HUKOU', needsApplicantId: true, mayRefuse: true });
  });

  it('is immutable once loaded', () => {
    const item = cat.item('HUKOU_SPOUSE')!;
    expect(() => ((item.steps[0] as { timeLimitWorkingDays: number }).timeLimitWorkingDays = 99)).toThrow(TypeError);
    expect(cat.item('HUKOU_SPOUSE')!.steps[0].timeLimitWorkingDays).toBe(5);
  });
});

describe('loadCatalogue validation', () => {
  it('accepts the minimal document', () => {
    expect(loadCatalogue(doc()).item('HUKOU_WORK_TRANSFER')!.steps).toHaveLength(3);
  });

  it.each<[string, (d: Doc) => unknown, string]>([
    ['a step whose role is not one of the roles', (d) => (d.items[0].steps[1].role = 'ELSEWHERE'), "items[HUKOU_WORK_TRANSFER].steps[1].role: 'ELSEWHERE' is not one of roles [DESTINATION, ORIGIN]"],
    [
      'an input produced by no earlier step',
      (d) => (d.items[0].steps[1].inputs = ['migration_certificate_no']),
      "items[HUKOU_WORK_TRANSFER].steps[1].inputs[0]: 'migration_certificate_no' is not an output of an earlier step",
    ],
    ['an input that is produced only later', (d) => (d.items[0].steps[0].inputs = ['approval_no']), "items[HUKOU_WORK_TRANSFER].steps[0].inputs[0]: 'approval_no' is not an output of an earlier step"],
    ['duplicate roles', (d) => d.items[0].roles.push('ORIGIN'), "items[HUKOU_WORK_TRANSFER].roles[2]: duplicate role 'ORIGIN'"],
    [
      'an accepting role that is not one of the roles',
      (d) => (d.items[0].acceptingRole = 'RECEIVING'),
      "items[HUKOU_WORK_TRANSFER].acceptingRole: 'RECEIVING' is not one of roles [DESTINATION, ORIGIN]",
    ],
    ['a time limit above 365', (d) => (d.items[0].steps[2].timeLimitWorkingDays = 366), 'items[HUKOU_WORK_TRANSFER].steps[2].timeLimitWorkingDays: must be between 0 and 365 working days'],
    ['a negative time limit', (d) => (d.items[0].steps[0].timeLimitWorkingDays = -1), 'items[HUKOU_WORK_TRANSFER].steps[0].timeLimitWorkingDays: must be between 0 and 365 working days'],
    ['a fractional time limit', (d) => (d.items[0].steps[0].timeLimitWorkingDays = 1.5), 'items[HUKOU_WORK_TRANSFER].steps[0].timeLimitWorkingDays: must be a whole number of working days'],
    [
      'a time limit given as a string',
      (d) => (loose(d.items[0].steps[0]).timeLimitWorkingDays = '5'),
      'items[HUKOU_WORK_TRANSFER].steps[0].timeLimitWorkingDays: must be a whole number of working days',
    ],
    [
      'a first step not performed by the accepting role',
      (d) => d.items[0].steps.unshift({ ...d.items[0].steps[1], inputs: [], outputs: [] }),
      "items[HUKOU_WORK_TRANSFER].steps[0].role: the first step must be performed by the accepting role 'DESTINATION'",
    ],
    ['a role that performs no step', (d) => d.items[0].roles.push('WITNESS'), "items[HUKOU_WORK_TRANSFER].roles[2]: role 'WITNESS' performs no step"],
    [
      'an output name produced twice',
      (d) => d.items[0].steps[2].outputs.push({ name: 'approval_no', kind: 'TEXT', required: true }),
      "items[HUKOU_WORK_TRANSFER].steps[2].outputs[0].name: 'approval_no' is already an output of steps[0]",
    ],
    [
      'an unknown output kind',
      (d) => (d.items[0].steps[0].outputs[0].kind = 'PDF'),
      'items[HUKOU_WORK_TRANSFER].steps[0].outputs[0].kind: Invalid option: expected one of "DOCUMENT_NUMBER"|"FILE_HASH"|"TEXT"|"DATE"',
    ],
    ['an unknown mode', (d) => (d.items[0].modes = ['ONSITE']), 'items[HUKOU_WORK_TRANSFER].modes[0]: Invalid option: expected one of "ONLINE"|"PROXY"|"JOINT"'],
    ['a badly formed role', (d) => (d.items[0].roles[1] = 'origin'), 'items[HUKOU_WORK_TRANSFER].roles[1]: must match ^[A-Z_]{2,30}$'],
    ['a badly formed action', (d) => (d.items[0].steps[1].action = 'de-register'), 'items[HUKOU_WORK_TRANSFER].steps[1].action: must match ^[A-Z_]{2,40}$'],
    ['an item without steps', (d) => (d.items[0].steps = []), 'items[HUKOU_WORK_TRANSFER].steps: must have at least one step'],
    ['a misspelt field', (d) => (loose(d.items[0].steps[1]).mayrefuse = true), 'items[HUKOU_WORK_TRANSFER].steps[1].mayrefuse: Unrecognized key: "mayrefuse"'],
    ['a missing field', (d) => delete loose(d.items[0].steps[1]).needsMaterials, 'items[HUKOU_WORK_TRANSFER].steps[1].needsMaterials: Invalid input: expected boolean, received undefined'],
    [
      'a duplicate material code',
      (d) => d.items[0].materials.push({ code: 'HOUSEHOLD_REGISTER', name: '户口簿', required: false }),
      "items[HUKOU_WORK_TRANSFER].materials[1].code: duplicate material code 'HOUSEHOLD_REGISTER'",
    ],
    ['an unusable item code (named by index)', (d) => (d.items[0].code = 'hukou work'), 'items[0].code: must match ^[A-Z0-9_-]{2,40}$'],
    ['a duplicate item code', (d) => d.items.push(structuredClone(d.items[0])), "items[HUKOU_WORK_TRANSFER].code: item code 'HUKOU_WORK_TRANSFER' is already used by items[0] (this is items[1])"],
    ['a bad version', (d) => (d.version = 'v 1'), 'version: must be 1-40 characters of [0-9A-Za-z._-]'],
  ])('rejects %s, naming the item and field', (_label, mutate, message) => {
    const d = doc();
    mutate(d);
    const e = failure(d);
    expect(e.message).toBe(message);
    expect(e.path).toBe(message.slice(0, message.indexOf(': ')));
  });

  it('names the whole document when it is not an object', () => {
    expect(failure('nope').message).toMatch(/^\(catalogue\): /);
    expect(failure(null).path).toBe('(catalogue)');
  });

  it('names the file when a file cannot be read', () => {
    expect(() => ServiceCatalogue.fromFile('/nonexistent/catalogue.json')).toThrow(/\/nonexistent\/catalogue\.json: cannot be read as JSON/);
  });

  it('throws only CatalogueError for arbitrary input (hostile documents)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        expect(() => loadCatalogue(json)).toThrow(CatalogueError);
      }),
    );
  });

  it('throws only CatalogueError when any field of a valid document is replaced', () => {
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      paths.push(path);
      if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...path, Array.isArray(v) ? Number(k) : k]);
    };
    walk(doc(), []);
    fc.assert(
      fc.property(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue(), (path, value) => {
        const d = doc();
        let parent = d as unknown as Record<string | number, unknown>;
        for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
        parent[path[path.length - 1]] = value;
        try {
          loadCatalogue(d);
        } catch (e) {
          expect(e).toBeInstanceOf(CatalogueError);
          expect((e as CatalogueError).path.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});
