/**
 * A mistake in the command line (unknown command or option, missing argument, malformed
 * value). The CLI prints it as `imagefs: usage: MESSAGE (see 'imagefs help CMD')` and exits 2.
 */
export class UsageError extends Error {
  /** The command whose help the message points to, when known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}
