import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_EVENTS } from './audit-events';

// The list of event names is closed and documented: each name has its row in docs/audit.md §2.
describe('AUDIT_EVENTS', () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'audit.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([a-z_]+(?:\.[a-z_]+)+)` \|/gm)].map((m) => m[1]));

  it.each([...AUDIT_EVENTS])('%s is documented in docs/audit.md', (event) => {
    expect(documented).toContain(event);
  });

  it('documents no event that is not in the list', () => {
    expect([...documented].filter((e) => !(AUDIT_EVENTS as readonly string[]).includes(e))).toEqual([]);
  });
});
