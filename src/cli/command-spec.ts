import { encodeRawName, hasLoneSurrogate } from '../tar/raw-name.js';
import type { Writable } from 'node:stream';
import type { CliImage, GlobalOptions, OpenForCli } from './types.js';

/** One option of the command line. */
export interface OptionSpec {
  /** The long name without dashes (`platform`). */
  name: string;
  /** A one-letter alias without the dash (`l`). */
  short?: string;
  /** When the option takes a value: its placeholder in help (`OS/ARCH[/VARIANT]`). */
  value?: string;
  /** One line for `--help`. */
  description: string;
  /** The option may be given several times; its values are joined with newlines. */
  repeatable?: boolean;
}

/** Where a command writes and what environment it sees. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Environment variables (`process.env` in the real CLI). */
  env: Record<string, string | undefined>;
}

/** What a command receives. */
export interface CommandContext {
  /** Positional arguments after the command name. */
  args: string[];
  /** Command options by long name: `true` for flags, the text for options with a value. */
  flags: Record<string, string | boolean>;
  global: GlobalOptions;
  io: CliIo;
  /** Opens a REF (the integrator's `openForCli` by default). */
  open: OpenForCli;
  signal?: AbortSignal;
}

/** One `imagefs` command. */
export interface CommandSpec {
  name: string;
  /** Positional arguments in help order; a trailing `?` marks an optional one (`PATH?`). */
  args: string[];
  /** One line for the command list. */
  summary: string;
  /** A paragraph for `imagefs help CMD`. */
  details: string;
  /** Options of this command only (global options are separate). */
  options: OptionSpec[];
  /** Runs the command; resolves to the exit code (0 success, 3 check found the image ineligible). */
  run(ctx: CommandContext): Promise<number>;
}

/** Opens the image of `ref`, runs `fn`, and closes the image whatever happens. */
export async function withImage<T>(ctx: CommandContext, ref: string, fn: (image: CliImage) => Promise<T>): Promise<T> {
  const image = await ctx.open(ref, ctx.global, ctx.signal === undefined ? {} : { signal: ctx.signal });
  try {
    return await fn(image);
  } finally {
    await image.close();
  }
}

/** Writes text to a stream, waiting for it to drain when its buffer is full. */
export async function writeOut(stream: Writable, data: string | Uint8Array): Promise<void> {
  // Names that are not UTF-8 are printed as their bytes, as ls does to a pipe (see tar/raw-name.ts).
  const bytes = typeof data === 'string' && hasLoneSurrogate(data) ? encodeRawName(data) : data;
  if (!stream.write(bytes)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { stream.off('error', onError); resolve(); };
      const onError = (e: unknown): void => { stream.off('drain', onDrain); reject(e); };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }
}
