import { ImageFsError } from '../errors/image-fs-error.js';
import { UsageError } from './usage-error.js';

/** Exit code of a runtime failure. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Exit code of `check` finding the image ineligible. */
export const EXIT_INELIGIBLE = 3;

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The one line the CLI prints for an error: `imagefs: CODE: MESSAGE (HINT)`. Usage errors read
 * `imagefs: usage: MESSAGE (see 'imagefs help CMD')`; errors that are not imagefs's own (a
 * bug, an unexpected system error) carry their Node code, else `Internal`.
 */
export function errorLine(error: unknown): string {
  if (error instanceof UsageError) {
    const help = error.command === undefined ? 'imagefs --help' : `imagefs help ${error.command}`;
    return `imagefs: usage: ${oneLine(error.message)} (see '${help}')`;
  }
  let code = 'Internal';
  let message = String(error);
  let hint = 'this looks like a bug; run again with --debug and report the output';
  if (ImageFsError.is(error)) {
    code = error.code;
    message = error.message;
    hint = error.hint;
  } else if (error instanceof Error) {
    message = error.message;
    const nodeCode = (error as NodeJS.ErrnoException).code;
    if (typeof nodeCode === 'string') {
      code = nodeCode;
      hint = '';
    }
  }
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  const tail = hint === '' ? '' : ` (${oneLine(hint)})`;
  return `imagefs: ${code}: ${oneLine(message)}${tail}`;
}

/** The error's stack and its `cause` chain, for `--debug`. */
export function errorDetails(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    parts.push(`${depth === 0 ? '' : 'caused by: '}${current instanceof Error ? current.stack ?? current.message : String(current)}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\n');
}

/** The exit code for an error: 2 for usage errors, 1 for everything else. */
export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
