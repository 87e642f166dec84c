#!/usr/bin/env node
'use strict';
// The expand/contract rule for migrations (docs/operations.md §9.1), checked where a machine can:
// a migration must leave a schema the PREVIOUS release still runs on, because during a rolling
// upgrade (and after a rollback of the code) that release reads and writes the migrated database.
//
// In `up()` of every migration from POLICY_FROM on:
//   - no drop or rename of a table or column, no change of a column's type or nullability, no drop of
//     a primary key (dropColumn(s), dropTable, renameColumn, renameTable, changeColumn(s),
//     dropPrimaryKey, and the same in raw SQL: DROP TABLE, DROP COLUMN, RENAME, ALTER COLUMN … TYPE /
//     SET NOT NULL);
//   - a column added to an existing table is nullable or has a default (addColumn(s) with
//     `isNullable: true` or `default:`; raw `ADD COLUMN … NOT NULL` needs `DEFAULT`): the previous
//     release inserts rows without it.
// A CONTRACT migration may drop, if its doc comment says `@contract table.column` (or `@contract
// table`) for each thing it drops, and the previous release — the commit before the one that added
// the migration (HEAD while it is not committed) — no longer maps that table or column in any
// entity. Migrations are also listed in index.ts in timestamp order, once each.
// `node scripts/check-migrations.js` checks the repository (and the rules on built-in bad examples).
const { execFileSync } = require('node:child_process');
const { readFileSync, readdirSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIR = 'libs/persistence/src/migrations';
// Migrations before this timestamp predate the policy (1765570000000, which changes the primary key
// of case_materials, would break it).
const POLICY_FROM = 1765850000000;

const BREAKING = [
  [/\bdropColumns?\s*\(/, 'drops a column (dropColumn)'],
  [/\bdropTable\s*\(/, 'drops a table (dropTable)'],
  [/\brenameColumn\s*\(/, 'renames a column (renameColumn)'],
  [/\brenameTable\s*\(/, 'renames a table (renameTable)'],
  [/\bchangeColumns?\s*\(/, "changes a column's definition (changeColumn)"],
  [/\bdropPrimaryKey\s*\(/, 'drops a primary key (dropPrimaryKey)'],
  [/\bDROP\s+(TABLE|COLUMN)\b/i, 'drops a table or column (raw SQL)'],
  [/\bRENAME\b/i, 'renames (raw SQL)'],
  [/\bALTER\s+COLUMN\b[^`'";]*\b(TYPE|SET\s+NOT\s+NULL)\b/i, "changes a column's type or nullability (raw SQL)"],
];

/** The text of `up()` (up to `down(` or the end). */
function upBody(source) {
  const start = source.search(/\basync\s+up\s*\(/);
  if (start < 0) return '';
  const end = source.slice(start).search(/\basync\s+down\s*\(/);
  return end < 0 ? source.slice(start) : source.slice(start, start + end);
}

/** Every `new TableColumn({...})` inside addColumn/addColumns calls, and raw ADD COLUMN clauses. */
function addedColumnProblems(up) {
  const problems = [];
  const calls = up.match(/\baddColumns?\s*\([\s\S]*?\)\s*\)?\s*;/g) || [];
  for (const call of calls) {
    for (const col of call.match(/new\s+TableColumn\s*\(\s*\{[^}]*\}/g) || []) {
      const name = (col.match(/name:\s*'([^']+)'/) || [])[1] || '?';
      if (!/isNullable:\s*true/.test(col) && !/\bdefault:/.test(col)) problems.push(`adds column ${name} NOT NULL without a default (the previous release inserts rows without it)`);
    }
  }
  for (const clause of up.match(/ADD\s+COLUMN\s+[^`'";,)]*/gi) || []) {
    if (/NOT\s+NULL/i.test(clause) && !/DEFAULT/i.test(clause)) problems.push(`adds a NOT NULL column without DEFAULT (raw SQL: ${clause.trim()})`);
  }
  return problems;
}

/** `@contract table.column` / `@contract table` entries of a migration's comments. */
function contractsOf(source) {
  return [...source.matchAll(/@contract\s+([a-z_][a-z0-9_]*)(?:\.([a-z_][a-z0-9_]*))?/g)].map((m) => ({ table: m[1], column: m[2] || null }));
}

/** What the migration drops: [{table, column|null}] from dropColumn('t', 'c') / dropTable('t'). */
function dropsOf(up) {
  const out = [];
  for (const m of up.matchAll(/\bdropColumn\s*\(\s*'([^']+)'\s*,\s*'([^']+)'/g)) out.push({ table: m[1], column: m[2] });
  for (const m of up.matchAll(/\bdropTable\s*\(\s*'([^']+)'/g)) out.push({ table: m[1], column: null });
  return out;
}

/**
 * Whether the entity sources (path → text) of a release map `table` (and `column`): an @Entity('table')
 * class with `name: 'column'`, or a property of that name without an explicit column name.
 */
function releaseMaps(entitySources, table, column) {
  for (const [file, text] of Object.entries(entitySources)) {
    if (!new RegExp(`@Entity\\(\\s*'${table}'`).test(text)) continue;
    if (!column) return file;
    if (new RegExp(`name:\\s*'${column}'`).test(text)) return file;
    const camel = column.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    if (new RegExp(`@(Primary)?Column\\((?:(?!name:)[^)])*\\)\\s*${camel}[?!]?:`).test(text)) return file;
  }
  return null;
}

const git = (args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** The entity files of the release before `file` was added (HEAD if it is not committed). */
function previousReleaseEntities(file) {
  let ref = 'HEAD';
  try {
    const added = git(['log', '--diff-filter=A', '--format=%H', '-1', '--', file]).trim();
    if (added) ref = `${added}^`;
  } catch {
    // not a git checkout: compare with nothing (every contract then passes only by its own marker)
  }
  const out = {};
  try {
    for (const f of git(['ls-tree', '-r', '--name-only', ref, '--', 'libs', 'apps'])
      .split('\n')
      .filter((f) => f.endsWith('.entity.ts')))
      out[f] = git(['show', `${ref}:${f}`]);
  } catch {
    return { ref, entities: null };
  }
  return { ref, entities: out };
}

/** Problems of one migration's source (previousEntities: lazily read entity sources of the previous release). */
function migrationProblems(name, source, previousEntities) {
  const up = upBody(source);
  const problems = [];
  const contracts = contractsOf(source);
  const breaking = BREAKING.filter(([re]) => re.test(up.replace(/\/\/.*$/gm, '')));
  if (breaking.length && !contracts.length) {
    for (const [, what] of breaking)
      problems.push(
        `${name}: up() ${what}; the previous release still runs on this schema during a rolling upgrade — expand now, contract in a later release, marked @contract (docs/operations.md §9.1)`,
      );
  } else if (contracts.length) {
    for (const d of dropsOf(up)) {
      if (!contracts.some((c) => c.table === d.table && (c.column === d.column || (!c.column && !d.column))))
        problems.push(`${name}: drops ${d.table}${d.column ? '.' + d.column : ''} without a @contract entry for it`);
    }
    const prev = previousEntities();
    for (const c of contracts) {
      const where = prev.entities && releaseMaps(prev.entities, c.table, c.column);
      if (where)
        problems.push(
          `${name}: @contract ${c.table}${c.column ? '.' + c.column : ''}, but the previous release (${prev.ref}) still maps it (${where}): stop reading it in one release, drop it in the next`,
        );
    }
  }
  for (const p of addedColumnProblems(up)) problems.push(`${name}: ${p}`);
  return problems;
}

function checkRepository() {
  const problems = [];
  const files = readdirSync(path.join(ROOT, DIR))
    .filter((f) => /^\d{13}-.*\.ts$/.test(f) && !f.includes('spec'))
    .sort();
  const stamps = files.map((f) => Number(f.slice(0, 13)));
  if (new Set(stamps).size !== stamps.length) problems.push(`two migrations share a timestamp: ${files.join(', ')}`);
  const index = readFileSync(path.join(ROOT, DIR, 'index.ts'), 'utf8');
  const listed = [...index.slice(index.indexOf('MIGRATIONS')).matchAll(/\b[A-Za-z]+(\d{13})\b/g)].map((m) => Number(m[1]));
  if (JSON.stringify(listed) !== JSON.stringify(stamps)) problems.push(`index.ts must list every migration once, in timestamp order (files: ${stamps.join(',')}; listed: ${listed.join(',')})`);
  for (const f of files) {
    if (Number(f.slice(0, 13)) < POLICY_FROM) continue;
    const file = `${DIR}/${f}`;
    let prev;
    problems.push(...migrationProblems(f, readFileSync(path.join(ROOT, file), 'utf8'), () => (prev ??= previousReleaseEntities(file))));
  }
  return { problems, checked: files.filter((f) => Number(f.slice(0, 13)) >= POLICY_FROM).length, total: files.length };
}

/** The rules must refuse these (a check that accepts everything would pass silently otherwise). */
function selfTest() {
  const mig = (up) => `export class X { async up(q) {\n${up}\n} async down(q) { await q.dropColumn('t', 'c'); } }`;
  const none = () => ({ ref: 'test', entities: {} });
  const prevMapsIt = () => ({ ref: 'test', entities: { 'w.entity.ts': "@Entity('webhooks')\nclass W {\n  @Column({ type: 'varchar', length: 200 }) secret: string;\n}" } });
  const bad = {
    dropColumn: [mig("await q.dropColumn('webhooks', 'secret');"), none],
    renameColumn: [mig("await q.renameColumn('peers', 'a', 'b');"), none],
    rawDrop: [mig("await q.query('ALTER TABLE peers DROP COLUMN a');"), none],
    rawType: [mig("await q.query('ALTER TABLE peers ALTER COLUMN a TYPE text');"), none],
    notNull: [mig("await q.addColumn('peers', new TableColumn({ name: 'x', type: 'integer' }));"), none],
    rawNotNull: [mig("await q.query('ALTER TABLE peers ADD COLUMN x integer NOT NULL');"), none],
    contractStillRead: [`/** @contract webhooks.secret */\n${mig("await q.dropColumn('webhooks', 'secret');")}`, prevMapsIt],
    contractUnlisted: [`/** @contract webhooks.secret */\n${mig("await q.dropColumn('webhooks', 'other');")}`, none],
  };
  const good = {
    nullable: [mig("await q.addColumn('peers', new TableColumn({ name: 'x', type: 'text', isNullable: true }));"), none],
    defaulted: [mig("await q.addColumn('peers', new TableColumn({ name: 'x', type: 'integer', default: 0 }));"), none],
    newTable: [mig("await q.createTable(new Table({ name: 'n', columns: [{ name: 'id', type: 'integer', isPrimary: true }] }));"), none],
    contractDone: [`/** @contract webhooks.secret */\n${mig("await q.dropColumn('webhooks', 'secret');")}`, none],
  };
  const wrong = [];
  for (const [name, [src, prev]] of Object.entries(bad)) if (!migrationProblems(name, src, prev).length) wrong.push(`self-test: ${name} was accepted`);
  for (const [name, [src, prev]] of Object.entries(good)) for (const p of migrationProblems(name, src, prev)) wrong.push(`self-test: ${name} was refused: ${p}`);
  return wrong;
}

if (require.main === module) {
  const { problems, checked, total } = checkRepository();
  problems.push(...selfTest());
  if (problems.length) {
    console.error(`check-migrations: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`check-migrations: ${total} migrations listed in order; ${checked} under the expand/contract rule (from ${POLICY_FROM}) keep the previous release's schema`);
}

module.exports = { migrationProblems, releaseMaps, upBody };
