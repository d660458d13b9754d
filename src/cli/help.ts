import type { CommandSpec, OptionSpec } from './command-spec.js';
import { GLOBAL_OPTIONS } from './global-options.js';

function usageLine(c: CommandSpec): string {
  const args = c.args.map((a) => (a.endsWith('?') ? `[${a.slice(0, -1)}]` : a));
  const opts = c.options.map((o) => `[${o.short ? `-${o.short}` : `--${o.name}`}${o.value ? ` ${o.value}` : ''}]`);
  return ['imagefs', c.name, ...args, ...opts].join(' ');
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const left = options.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return options.map((o, i) => `  ${left[i]!.padEnd(width)}${o.description}`);
}

const REF_HELP = [
  'REF is oci:DIR[:TAG] (an OCI image layout; without TAG the layout must hold one image; the tag',
  "follows the last ':' unless that text has a '/') or a registry reference [HOST[:PORT]/]PATH[:TAG][@DIGEST].",
];

const EXIT_HELP = 'Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 check found the image ineligible.';

/** The general help: every command and every global option. */
export function generalHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'imagefs: a lazy filesystem over OCI container images',
    '',
    'Usage: imagefs [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...REF_HELP,
    EXIT_HELP,
    "Run 'imagefs help COMMAND' or 'imagefs COMMAND --help' for a command's arguments and options.",
    '',
  ].join('\n');
}

/** The help of one command: usage, description, its options and the global ones. */
export function commandHelp(c: CommandSpec): string {
  return [
    `Usage: ${usageLine(c)}`,
    '',
    c.summary,
    '',
    c.details,
    '',
    ...(c.options.length > 0 ? ['Options:', ...optionLines(c.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...REF_HELP,
    EXIT_HELP,
    '',
  ].join('\n');
}
