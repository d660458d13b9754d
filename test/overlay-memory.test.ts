import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('merged tree memory', () => {
  it('holds a 50k-entry image in under 128 bytes an entry (measured after GC, entry tables dropped)', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/helpers/overlay-measure.ts', '50000'], { cwd: process.cwd() });
    const m = JSON.parse(stdout.trim()) as { nodes: number; inodes: number; structuralBytesPerEntry: number; heapBytesPerEntry: number };
    expect(m.nodes).toBeGreaterThan(50_000);
    expect(m.inodes).toBeLessThan(m.nodes); // hardlinks share inodes
    expect(m.structuralBytesPerEntry).toBeLessThan(100);
    expect(m.heapBytesPerEntry).toBeLessThan(128);
  });
});
