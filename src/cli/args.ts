import type { CommandSpec, OptionSpec } from './command-spec.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { UsageError } from './usage-error.js';

/** The command line split into its parts. */
export interface ParsedArgs {
  /** The command name, when one was given. */
  command: CommandSpec | undefined;
  /** Positional arguments after the command. */
  positionals: string[];
  /** Global option values by long name (`true` for flags). */
  global: Record<string, string | boolean>;
  /** Command option values by long name. */
  flags: Record<string, string | boolean>;
}

/**
 * Parses `argv` (without `node` and the script). Global options may appear anywhere; command
 * options after the command. Accepted forms: `--name`, `--name VALUE`, `--name=VALUE`, `-l`,
 * `-lR` (clustered flags), `-x VALUE`; `--` ends options; `-` alone is a positional.
 *
 * @param commands - the known commands by name.
 * @throws UsageError for an unknown command or option, a missing value, or a value given to a flag.
 */
export function parseArgs(argv: readonly string[], commands: ReadonlyMap<string, CommandSpec>): ParsedArgs {
  const parsed: ParsedArgs = { command: undefined, positionals: [], global: {}, flags: {} };
  let onlyPositionals = false;
  const positional = (token: string): void => {
    if (parsed.command !== undefined) {
      parsed.positionals.push(token);
      return;
    }
    const command = commands.get(token);
    if (command === undefined) throw new UsageError(`unknown command '${token}' (commands: ${[...commands.keys()].join(', ')})`);
    parsed.command = command;
  };
  const find = (match: (o: OptionSpec) => boolean, shown: string): { spec: OptionSpec; global: boolean } => {
    const g = GLOBAL_OPTIONS.find(match);
    if (g !== undefined) return { spec: g, global: true };
    const c = parsed.command?.options.find(match);
    if (c !== undefined) return { spec: c, global: false };
    const where = parsed.command === undefined ? '' : ` for '${parsed.command.name}'`;
    throw new UsageError(`unknown option ${shown}${where}`, parsed.command?.name);
  };
  const store = (hit: { spec: OptionSpec; global: boolean }, value: string | boolean): void => {
    const into = hit.global ? parsed.global : parsed.flags;
    const before = into[hit.spec.name];
    into[hit.spec.name] = hit.spec.repeatable === true && typeof before === 'string' && typeof value === 'string' ? `${before}\n${value}` : value;
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (onlyPositionals || token === '-' || !token.startsWith('-')) {
      positional(token);
    } else if (token === '--') {
      onlyPositionals = true;
    } else if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      const hit = find((o) => o.name === name, `--${name}`);
      if (hit.spec.value === undefined) {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`, parsed.command?.name);
        store(hit, true);
      } else if (eq >= 0) {
        store(hit, token.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value: ${hit.spec.value}`, parsed.command?.name);
        store(hit, argv[++i]!);
      }
    } else {
      for (let k = 1; k < token.length; k++) {
        const letter = token[k]!;
        const hit = find((o) => o.short === letter, `-${letter}`);
        if (hit.spec.value === undefined) {
          store(hit, true);
          continue;
        }
        const rest = token.slice(k + 1);
        if (rest !== '') store(hit, rest);
        else if (i + 1 < argv.length) store(hit, argv[++i]!);
        else throw new UsageError(`option -${letter} needs a value: ${hit.spec.value}`, parsed.command?.name);
        break;
      }
    }
  }
  return parsed;
}

/**
 * Checks the positional arguments against the command's `args` (a trailing `?` marks an
 * optional one; a last one ending in `...` takes any number).
 *
 * @throws UsageError naming what is missing or extra.
 */
export function checkPositionals(command: CommandSpec, positionals: readonly string[]): void {
  const required = command.args.filter((a) => !a.endsWith('?'));
  if (positionals.length < required.length) {
    throw new UsageError(`'${command.name}' needs ${required.slice(positionals.length).join(' and ')}`, command.name);
  }
  const variadic = command.args.at(-1)?.replace(/\?$/, '').endsWith('...') === true; // `ARGS...?`: any number more
  if (!variadic && positionals.length > command.args.length) {
    throw new UsageError(`'${command.name}' takes at most ${command.args.length} argument(s); unexpected '${positionals[command.args.length]}'`, command.name);
  }
}
