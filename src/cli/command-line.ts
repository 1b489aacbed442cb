// What every sigward command does with its command line before its own work: where it writes, and its
// flags parsed or its usage printed (a bad flag: why, then the usage; --help: the usage alone).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { describeError } from '../errors.ts';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export interface Command {
  /** As the user typed it, e.g. `sigward policy test`: the prefix of a usage error. */
  readonly name: string;
  readonly usage: string;
  /** The exit code of a usage error (verify's is 1, as cosign's; the newer commands' 2). */
  readonly usageExit: number;
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true }>
>;

/**
 * The flags and operands of `argv`, or the exit code when the command is done: the usage printed on
 * --help (0), or why the line is wrong and the usage (`command.usageExit`).
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  argv: readonly string[],
  options: O,
  command: Command,
  io: Output,
): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true });
  } catch (error) {
    io.err(`${command.name}: ${describeError(error)}\n\n${command.usage}`);
    return command.usageExit;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    io.out(command.usage);
    return 0;
  }
  return parsed;
}
