import type { Command } from 'commander';

/**
 * A key id: the RFC 7638 SHA-256 thumbprint of the public key in base64url, 43 characters of
 * [A-Za-z0-9_-] (Ed25519, ES256 and SM2 keys alike). One key in 64 has an id that begins with '-'.
 */
export const KID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Every command of the tree, the root first. */
function* commandTree(c: Command): Generator<Command> {
  yield c;
  for (const sub of c.commands) yield* commandTree(sub);
}

/**
 * The user's arguments with every key id that begins with '-' moved behind `--`, where commander
 * reads operands only. Without this, commander takes such an id for an unknown option and
 * `tongban keys revoke -5uo… --reason …` fails with "unknown option '-5uo…'".
 *
 * An argument that follows an option taking a value (`--reason <text>`, anywhere in the tree) is
 * that option's value and stays where it is. No command or option name has a key id's shape, so a
 * mistyped option is still refused as unknown.
 */
export function kidsAsOperands(program: Command, args: readonly string[]): string[] {
  const valued = [...commandTree(program)].flatMap((c) => c.options.filter((o) => o.required || o.optional));
  const takesValue = (arg: string | undefined) => arg !== undefined && valued.some((o) => o.short === arg || o.long === arg);
  const literal = args.indexOf('--');
  const before = literal < 0 ? [...args] : args.slice(0, literal);
  const after = literal < 0 ? [] : args.slice(literal + 1);
  const kept: string[] = [];
  const moved: string[] = [];
  before.forEach((arg, i) => (arg.startsWith('-') && KID_SHAPE.test(arg) && !takesValue(before[i - 1]) ? moved : kept).push(arg));
  return moved.length || literal >= 0 ? [...kept, '--', ...moved, ...after] : kept;
}
