import type { CommandSpec } from '../command-spec.js';
import { catCommand } from './cat.js';
import { inspectCommand } from './inspect.js';
import { lsCommand } from './ls.js';
import { exportCommand } from './export.js';
import { mountCommand } from './mount.js';
import { umountCommand } from './umount.js';
import { runCommand } from './run.js';
import { checkCommand } from './check.js';
import { indexCommand } from './index-command.js';
import { statCommand } from './stat.js';
import { commitCommand } from './commit.js';
import { pullCommand } from './pull.js';
import { cacheCommand } from './cache.js';

/** Every `imagefs` command, in help order. */
export const COMMANDS: readonly CommandSpec[] = [
  inspectCommand, checkCommand, indexCommand, lsCommand, catCommand, statCommand, exportCommand, mountCommand, umountCommand, runCommand, commitCommand, pullCommand, cacheCommand,
];
