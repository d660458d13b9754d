import { FsError } from '../../errors/fs-error.js';
import { imagePath } from '../format.js';
import { withImage, writeOut, type CommandSpec } from '../command-spec.js';

/** `imagefs cat REF PATH`. */
export const catCommand: CommandSpec = {
  name: 'cat',
  args: ['REF', 'PATH'],
  summary: "write one file's bytes to stdout",
  details: 'Writes the bytes of the regular file PATH (symlinks followed inside the image) to stdout and nothing else. A directory fails with EISDIR; devices and FIFOs print nothing.',
  options: [],
  async run(ctx) {
    const path = imagePath(ctx.args[1]!);
    await withImage(ctx, ctx.args[0]!, async (image) => {
      const options = ctx.signal === undefined ? {} : { signal: ctx.signal };
      const fs = await image.openFs(options);
      const stats = await fs.stat(path, options);
      if (stats.type === 'dir') throw new FsError('EISDIR', 'read', path);
      for await (const chunk of fs.createReadStream(path, options)) await writeOut(ctx.io.stdout, chunk);
    });
    return 0;
  },
};
