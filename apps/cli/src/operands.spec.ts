import { Command, CommanderError } from 'commander';
import { KID_SHAPE, kidsAsOperands } from './operands';
import { program } from './program';

// The real `tongban` program, its actions replaced by a recorder: only the parsing is under test.
const DASH_KID = '-5uoPy8gwtDhG5e-P55Aw5sLT-CZLkkFRjH3BHM1iZg';
const DOUBLE_DASH_KID = '--uoPy8gwtDhG5e-P55Aw5sLT-CZLkkFRjH3BHM1iZg';

function* tree(c: Command, path: string[] = []): Generator<{ command: Command; path: string[] }> {
  yield { command: c, path };
  for (const sub of c.commands) yield* tree(sub, [...path, sub.name()]);
}

let called: { operands: unknown[]; opts: Record<string, unknown> } | undefined;
for (const { command } of tree(program)) {
  command.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  if (!command.commands.length)
    command.action((...a: unknown[]) => {
      const self = a[a.length - 1] as Command;
      called = { operands: self.processedArgs, opts: self.opts() };
    });
}

async function parse(args: string[], rewrite = true) {
  called = undefined;
  await program.parseAsync(rewrite ? kidsAsOperands(program, args) : args, { from: 'user' });
  return called!;
}

/** What every mandatory option of a command needs on the line. */
const mandatory = (c: Command) => c.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, 'x']);

// Generated from the program's own table: every command that takes a key id takes one that begins with '-'.
const kidCommands = [...tree(program)].filter(({ command }) => command.registeredArguments.some((a) => a.name() === 'kid'));

it('the table is not empty: `keys revoke <kid>` is among the commands taking a key id', () => {
  expect(kidCommands.map((k) => k.path.join(' '))).toContain('keys revoke');
});

describe.each(kidCommands.map((k) => [k.path.join(' '), k] as const))('%s', (_name, { command, path }) => {
  const at = command.registeredArguments.findIndex((a) => a.name() === 'kid');

  it.each([DASH_KID, DOUBLE_DASH_KID])('takes the key id %s as its operand, before or after the options', async (kid) => {
    for (const args of [
      [...path, kid, ...mandatory(command)],
      [...path, ...mandatory(command), kid],
      [...path, kid, '-c', 'gateway.json', ...mandatory(command)],
    ]) {
      const r = await parse(args);
      expect(r.operands[at]).toBe(kid);
    }
    expect(program.opts().config).toBe('gateway.json');
  });

  it('commander alone refuses such an id as an unknown option (what the rewrite is for)', async () => {
    await expect(parse([...path, DASH_KID, ...mandatory(command)], false)).rejects.toThrow(`unknown option '${DASH_KID}'`);
  });

  it('still takes an id after an explicit `--`', async () => {
    expect((await parse([...path, ...mandatory(command), '--', DASH_KID])).operands[at]).toBe(DASH_KID);
  });

  it('still refuses a mistyped option', async () => {
    await expect(parse([...path, DASH_KID, ...mandatory(command), '--reasn', 'x'])).rejects.toThrow(CommanderError);
    await expect(parse([...path, DASH_KID, ...mandatory(command), '--reasn', 'x'])).rejects.toThrow("unknown option '--reasn'");
  });
});

it("leaves an option's value where it is, even when it has a key id's shape", async () => {
  const r = await parse(['keys', 'revoke', 'AuoPy8gwtDhG5e-P55Aw5sLT-CZLkkFRjH3BHM1iZg', '--reason', DASH_KID]);
  expect(r).toEqual({ operands: ['AuoPy8gwtDhG5e-P55Aw5sLT-CZLkkFRjH3BHM1iZg'], opts: expect.objectContaining({ reason: DASH_KID }) });
});

it('changes nothing else on the line', () => {
  const line = ['keys', 'rotate', '--alg', 'SM2SM3', '-c', 'x.json', '--immediate'];
  expect(kidsAsOperands(program, line)).toEqual(line);
  expect(kidsAsOperands(program, ['keys', 'revoke', '--', 'k'])).toEqual(['keys', 'revoke', '--', 'k']);
  expect(KID_SHAPE.test(DASH_KID)).toBe(true);
});
