'use strict';
// The PREVIOUS release, built from git into a temporary directory for the upgrade test. There are no
// release tags in this repository, so "previous release" is, by default, the commit before the one
// that most recently added a migration: the last build that does not know the newest schema (the
// build a province runs when it starts the upgrade). UPGRADE_FROM=<commit or tag> chooses another.
const { execFileSync, execSync } = require('node:child_process');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const git = (args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

/**
 * {ref, sha, why}: the commit to build as the previous release. By default the parent of the commit
 * that most recently ADDED a migration (git history, not file names: a migration may be added
 * after one with a later timestamp — 1765820000000 came after 1765850000000 — and the release
 * before it is then the one that lacks it).
 */
function previousRef() {
  if (process.env.UPGRADE_FROM) return { ref: process.env.UPGRADE_FROM, sha: git(['rev-parse', `${process.env.UPGRADE_FROM}^{commit}`]), why: 'UPGRADE_FROM' };
  const dir = 'libs/persistence/src/migrations';
  const uncommitted = git(['status', '--porcelain', '--', dir]);
  if (uncommitted) throw new Error(`migrations not committed (${uncommitted.split('\n').join(', ')}): commit them, or set UPGRADE_FROM`);
  const added = git(['log', '--diff-filter=A', '--format=%H', '-1', '--', `${dir}/[0-9]*.ts`]);
  if (!added) throw new Error(`no commit added a migration under ${dir}: set UPGRADE_FROM`);
  const file = path.basename(git(['show', '--diff-filter=A', '--name-only', '--format=', added, '--', `${dir}/[0-9]*.ts`]).split('\n')[0]);
  return { ref: `${added.slice(0, 10)}^`, sha: git(['rev-parse', `${added}^`]), why: `the commit before the newest migration, ${file}, was added (${added.slice(0, 10)})` };
}

/**
 * Exports `sha` into a temp directory (git archive: nothing is registered in the repository), links
 * the current node_modules into it (cp -al; `npm ci` there instead when package-lock.json differs)
 * and builds it. Reused when already built. Returns the directory.
 */
function buildPrevious(sha, log = console.log) {
  const dir = path.join(process.env.UPGRADE_BUILD_DIR || tmpdir(), `tongban-release-${sha.slice(0, 12)}`);
  const marker = path.join(dir, '.built');
  if (existsSync(marker)) {
    log(`previous release ${sha.slice(0, 12)}: reusing the build in ${dir}`);
    return dir;
  }
  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  execSync(`git archive --format=tar ${sha} | tar -x -C ${JSON.stringify(dir)}`, { cwd: ROOT, stdio: 'inherit' });
  let sameLock = true;
  try {
    execFileSync('git', ['diff', '--quiet', sha, '--', 'package-lock.json'], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    sameLock = false; // exit 1: the dependencies differ
  }
  if (sameLock && !existsSync(path.join(dir, 'node_modules'))) execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  else if (!existsSync(path.join(dir, 'node_modules'))) execSync('npm ci --no-audit --no-fund', { cwd: dir, stdio: 'inherit' });
  execSync('npm run --silent build', { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  writeFileSync(marker, `${sha}\n`);
  log(`previous release ${sha.slice(0, 12)}: built in ${dir} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

module.exports = { previousRef, buildPrevious };
