import { formatTime, imagePath, modeString, statJson, type StatJson } from '../format.js';
import { withImage, writeOut, type CommandSpec } from '../command-spec.js';

function statText(j: StatJson): string {
  const lines = [
    `path:   ${j.path}`,
    `type:   ${j.type}`,
    `mode:   ${j.mode.toString(8).padStart(4, '0')} (${modeString(j.type, j.mode)})`,
    `uid:    ${j.uid}`,
    `gid:    ${j.gid}`,
    `size:   ${j.size}`,
    `mtime:  ${nsText(j.mtimeNs)} (${formatTime(j.mtime)} UTC)`,
    `nlink:  ${j.nlink}`,
    ...(j.linkTarget === undefined ? [] : [`link:   ${j.linkTarget}`]),
    ...Object.entries(j.xattrs).map(([name, value]) => `xattr:  ${name}=0s${value}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Nanoseconds since the epoch as seconds with nine decimals (`1700000000.123456789`). */
function nsText(ns: string): string {
  const n = BigInt(ns);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** `imagefs stat REF PATH`. */
export const statCommand: CommandSpec = {
  name: 'stat',
  args: ['REF', 'PATH'],
  summary: 'print the lstat of one path: mode, uid, gid, size, mtime, nlink, link target, xattrs',
  details: 'Prints the metadata of PATH in the merged filesystem without following a final symlink (lstat). Mode is the permission and special bits (octal in text, a number in JSON); mtime is in seconds since the epoch (text: with nine decimals), mtimeNs the exact nanoseconds as a decimal string; xattr values are base64 (text: NAME=0sBASE64, as getfattr -e base64 prints them). With --json: {path, type, mode, uid, gid, size, mtime, mtimeNs, nlink, linkTarget?, xattrs: {NAME: BASE64}}, type one of file, dir, symlink, hardlink, char, block, fifo, socket.',
  options: [],
  async run(ctx) {
    const path = imagePath(ctx.args[1]!);
    const doc = await withImage(ctx, ctx.args[0]!, async (image) => {
      const fs = await image.openFs(ctx.signal === undefined ? {} : { signal: ctx.signal });
      return statJson(path, await fs.lstat(path));
    });
    await writeOut(ctx.io.stdout, ctx.global.json ? `${JSON.stringify(doc, null, 2)}\n` : statText(doc));
    return 0;
  },
};
