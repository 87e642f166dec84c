import { status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFUSAL_STATUS } from './refusal';

// The refusal codes and their gRPC statuses are a contract an independent implementation copies
// from the documents: docs/protocol.md §4.2 (every RPC) and docs/protocol-status.md §3
// (GetStatusList). A code the code sends with another status than the documents say, or a code
// nobody documented, fails here.
const DOCS = join(__dirname, '..', '..', '..', 'docs');
const read = (f: string) => readFileSync(join(DOCS, f), 'utf8');
const between = (text: string, from: string, to: string) => text.slice(text.indexOf(from), text.indexOf(to, text.indexOf(from)));

const STATUS_NUMBER = status as unknown as Record<string, number>;

/** `CODE` → [status name, number] from table rows `| … | \`CODE\` | \`STATUS\` (n) |`. */
function documented(section: string): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  for (const m of section.matchAll(/^\|(?:[^|\n]*\|)??\s*`([A-Z_]+)`\s*\|\s*`([A-Z_]+)` \((\d+)\)\s*\|/gm)) out.set(m[1], [m[2], Number(m[3])]);
  // Codes given in prose: "`CODE` (`STATUS`, n)".
  for (const m of section.matchAll(/`([A-Z_]+)`\s+\(`([A-Z_]+)`, (\d+)[,)]/g)) if (!out.has(m[1])) out.set(m[1], [m[2], Number(m[3])]);
  return out;
}

const protocol = documented(between(read('protocol.md'), '### 4.2 Every refusal code', '### 4.3'));
const statusList = documented(between(read('protocol-status.md'), '## 3. `GetStatusList`', '## 4.'));

describe('refusal codes: code and documents agree', () => {
  it('docs/protocol.md §4.2 gives every code of refusal.ts, each with the status the code sends', () => {
    for (const [code, sent] of Object.entries(REFUSAL_STATUS)) {
      expect({ code, documented: protocol.get(code) }).toEqual({ code, documented: [expect.any(String), sent] });
      const [name, n] = protocol.get(code)!;
      expect({ code, name: STATUS_NUMBER[name] }).toEqual({ code, name: n });
    }
    expect([...protocol.keys()].filter((c) => !(c in REFUSAL_STATUS))).toEqual([]);
  });

  it('docs/protocol-status.md §3 gives GetStatusList refusals with the statuses of refusal.ts', () => {
    expect([...statusList.keys()].sort()).toEqual(['LICENCE_TYPE_NOT_ALLOWED', 'MALFORMED_PAYLOAD', 'UNKNOWN_STATUS_LIST']);
    for (const [code, [name, n]] of statusList) {
      expect({ code, sent: REFUSAL_STATUS[code as keyof typeof REFUSAL_STATUS] }).toEqual({ code, sent: n });
      expect(STATUS_NUMBER[name]).toBe(n);
    }
  });
});
