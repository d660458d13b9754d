import { resolve } from 'node:path';
import { exportTo } from '../../fs/export.js';
import { withImage, writeOut, type CommandSpec } from '../command-spec.js';

/** `imagefs export REF DIR`. */
export const exportCommand: CommandSpec = {
  name: 'export',
  args: ['REF', 'DIR'],
  summary: "materialise the merged root filesystem into DIR (like umoci unpack's rootfs)",
  details:
    'Writes the merged root filesystem into DIR (owners, modes, mtimes, xattrs, devices, fifos, hardlinks as hardlinks) and prints a summary. DIR is created when missing; an existing DIR must be empty (else exit 1, nothing written). Nothing is ever written outside DIR.',
  options: [],
  async run(ctx) {
    const dir = resolve(ctx.args[1]!);
    const summary = await withImage(ctx, ctx.args[0]!, async (image) => {
      const options = ctx.signal === undefined ? {} : { signal: ctx.signal };
      return exportTo(await image.openImageFs(options), dir, options);
    });
    if (ctx.global.json) {
      await writeOut(ctx.io.stdout, `${JSON.stringify({ dir, ...summary })}\n`);
    } else if (!ctx.global.quiet) {
      const s = summary;
      await writeOut(ctx.io.stdout, `exported to ${dir}: ${s.dirs} dirs, ${s.files} files (${s.bytes} bytes), ${s.symlinks} symlinks, ${s.hardlinks} hardlinks, ${s.devices} devices, ${s.fifos} fifos, ${s.xattrs} xattrs\n`);
      for (const note of s.notes) await writeOut(ctx.io.stdout, `note: ${note}\n`);
    }
    return 0;
  },
};
