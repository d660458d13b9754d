import { checkPositionals, parseArgs } from './args.js';
import { writeOut, type CliIo, type CommandSpec } from './command-spec.js';
import { COMMANDS } from './commands/index.js';
import { buildGlobalOptions } from './global-options.js';
import { readRegistriesConf } from '../registry/registries-conf.js';
import { commandHelp, generalHelp } from './help.js';
import { openForCli } from './open.js';
import { errorDetails, errorLine, exitCodeOf, EXIT_USAGE } from './report-error.js';
import type { OpenForCli } from './types.js';
import { UsageError } from './usage-error.js';
import { packageVersion } from './version.js';

/** What {@link runCli} may be given besides the arguments (tests and embedders). */
export interface RunCliOptions {
  /** Opens references; default {@link openForCli}. */
  open?: OpenForCli;
  /** Cancels the command. */
  signal?: AbortSignal;
}

const HELP_COMMAND: CommandSpec = {
  name: 'help',
  args: ['COMMAND?'],
  summary: 'show help for imagefs or for one command',
  details: 'imagefs help prints every command and global option; imagefs help COMMAND prints that command\'s arguments and options.',
  options: [],
  run: async () => 0,
};

const TABLE = new Map<string, CommandSpec>([...COMMANDS, HELP_COMMAND].map((c) => [c.name, c]));

/**
 * Runs the `imagefs` command line and resolves to the exit code: 0 success, 1 runtime failure
 * (one line on stderr: `imagefs: CODE: MESSAGE (HINT)`), 2 usage error, 3 `check` found the
 * image ineligible. Never rejects.
 *
 * @param argv - the arguments after the program name.
 * @param io - stdout, stderr and the environment.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const parsed = parseArgs(argv, TABLE);
    debug = parsed.global['debug'] === true;
    if (parsed.global['version'] === true) {
      await writeOut(io.stdout, `imagefs ${packageVersion()}\n`);
      return 0;
    }
    const command = parsed.command;
    if (command === HELP_COMMAND || parsed.global['help'] === true) {
      const topic = command === HELP_COMMAND ? parsed.positionals[0] : command?.name;
      if (topic === undefined) {
        await writeOut(io.stdout, generalHelp(COMMANDS));
        return 0;
      }
      const spec = TABLE.get(topic);
      if (spec === undefined) throw new UsageError(`no command '${topic}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
      await writeOut(io.stdout, commandHelp(spec));
      return 0;
    }
    if (command === undefined) {
      await writeOut(io.stderr, generalHelp(COMMANDS));
      await writeOut(io.stderr, "imagefs: usage: no command given (see 'imagefs --help')\n");
      return EXIT_USAGE;
    }
    checkPositionals(command, parsed.positionals);
    const global = buildGlobalOptions(parsed.global, io.env);
    // containers-registries.conf mirror entries, as users configure them for podman and CRI-O.
    global.confMirrors = await readRegistriesConf(io.env);
    return await command.run({
      args: parsed.positionals,
      flags: parsed.flags,
      global,
      io,
      open: options.open ?? openForCli,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    try {
      await writeOut(io.stderr, `${errorLine(error)}\n`);
      if (debug) await writeOut(io.stderr, `${errorDetails(error)}\n`);
    } catch {
      // stderr is gone; the exit code still tells
    }
    return exitCodeOf(error);
  }
}
