import { z } from 'zod';
import { toCatalogueError } from './issue-path';

/** 全程网办 / 异地代收代办 / 多地联办. */
export const SERVICE_MODES = ['ONLINE', 'PROXY', 'JOINT'] as const;
/** What a step output holds; tells the case engine how to validate and display it. */
export const OUTPUT_KINDS = ['DOCUMENT_NUMBER', 'FILE_HASH', 'TEXT', 'DATE'] as const;

const code = z.string().regex(/^[A-Z0-9_-]{2,40}$/, 'must match ^[A-Z0-9_-]{2,40}$');
const role = z.string().regex(/^[A-Z_]{2,30}$/, 'must match ^[A-Z_]{2,30}$');
const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
// Inputs refer to outputs by name, so names are plain identifiers that survive any transport.
const outputName = z.string().regex(/^[a-z][a-z0-9_]{1,59}$/, 'must match ^[a-z][a-z0-9_]{1,59}$');

const outputSchema = z.strictObject({
  name: outputName,
  kind: z.enum(OUTPUT_KINDS),
  required: z.boolean(),
});

const stepSchema = z.strictObject({
  role,
  action: z.string().regex(/^[A-Z_]{2,40}$/, 'must match ^[A-Z_]{2,40}$'),
  name: text(100),
  timeLimitWorkingDays: z
    .number({ error: 'must be a whole number of working days' })
    .int('must be a whole number of working days')
    .min(0, 'must be between 0 and 365 working days')
    .max(365, 'must be between 0 and 365 working days'),
  inputs: z.array(outputName),
  outputs: z.array(outputSchema),
  mayRefuse: z.boolean(),
  needsApplicantId: z.boolean(),
  needsMaterials: z.boolean(),
});

const materialSchema = z.strictObject({ code, name: text(100), required: z.boolean() });

const itemSchema = z.strictObject({
  code,
  name: text(100),
  department: text(100),
  modes: z.array(z.enum(SERVICE_MODES)).min(1, 'must list at least one mode'),
  roles: z.array(role).min(1, 'must list at least one role'),
  acceptingRole: role,
  steps: z.array(stepSchema).min(1, 'must have at least one step'),
  materials: z.array(materialSchema),
  confirmed: z.boolean().optional(),
  notes: z.string().max(2000, 'must be at most 2000 characters').optional(),
});

/** A catalogue document exactly as an administrator writes it. */
export const catalogueSchema = z
  .strictObject({
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$/, 'must be 1-40 characters of [0-9A-Za-z._-]'),
    about: z.string().max(4000, 'must be at most 4000 characters').optional(),
    items: z.array(itemSchema),
  })
  .superRefine((doc, ctx) => {
    const seen = new Map<string, number>();
    doc.items.forEach((item, i) => {
      const first = seen.get(item.code);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['items', i, 'code'], message: `item code '${item.code}' is already used by items[${first}] (this is items[${i}])` });
      else seen.set(item.code, i);
      for (const p of itemProblems(item)) ctx.addIssue({ code: 'custom', path: ['items', i, ...p.path], message: p.message });
    });
  });

/** A validated catalogue document. */
export type CatalogueDocument = z.infer<typeof catalogueSchema>;

type Problem = { path: (string | number)[]; message: string };

/** The workflow rules zod cannot say field by field; in document order so the first is the earliest. */
function itemProblems(item: z.infer<typeof itemSchema>): Problem[] {
  const problems: Problem[] = [];
  const roles = new Set<string>();
  item.roles.forEach((r, i) => {
    if (roles.has(r)) problems.push({ path: ['roles', i], message: `duplicate role '${r}'` });
    roles.add(r);
  });
  const modes = new Set<string>();
  item.modes.forEach((m, i) => {
    if (modes.has(m)) problems.push({ path: ['modes', i], message: `duplicate mode '${m}'` });
    modes.add(m);
  });
  const roleList = [...roles].join(', ');
  if (!roles.has(item.acceptingRole)) problems.push({ path: ['acceptingRole'], message: `'${item.acceptingRole}' is not one of roles [${roleList}]` });
  // The accepting province owns the case, so it is the one that opens it.
  if (item.steps.length > 0 && roles.has(item.acceptingRole) && item.steps[0].role !== item.acceptingRole) {
    problems.push({ path: ['steps', 0, 'role'], message: `the first step must be performed by the accepting role '${item.acceptingRole}'` });
  }
  const producedBy = new Map<string, number>();
  const performing = new Set<string>();
  item.steps.forEach((step, s) => {
    performing.add(step.role);
    if (!roles.has(step.role)) problems.push({ path: ['steps', s, 'role'], message: `'${step.role}' is not one of roles [${roleList}]` });
    step.inputs.forEach((input, k) => {
      if (!producedBy.has(input)) problems.push({ path: ['steps', s, 'inputs', k], message: `'${input}' is not an output of an earlier step` });
    });
    step.outputs.forEach((out, k) => {
      const earlier = producedBy.get(out.name);
      // Inputs name outputs, so a name produced twice would make an input ambiguous.
      if (earlier !== undefined) problems.push({ path: ['steps', s, 'outputs', k, 'name'], message: `'${out.name}' is already an output of steps[${earlier}]` });
    });
    for (const out of step.outputs) if (!producedBy.has(out.name)) producedBy.set(out.name, s);
  });
  item.roles.forEach((r, i) => {
    if (!performing.has(r)) problems.push({ path: ['roles', i], message: `role '${r}' performs no step` });
  });
  const materials = new Set<string>();
  item.materials.forEach((m, i) => {
    if (materials.has(m.code)) problems.push({ path: ['materials', i, 'code'], message: `duplicate material code '${m.code}'` });
    materials.add(m.code);
  });
  return problems;
}

/** Validates a catalogue document; throws CatalogueError naming the item and field of the first problem. */
export function parseCatalogue(json: unknown): CatalogueDocument {
  const result = catalogueSchema.safeParse(json);
  if (!result.success) throw toCatalogueError(result.error, json, '(catalogue)');
  return result.data;
}
