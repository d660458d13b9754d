import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import type { FsErrorCode, ImageErrorCode } from '../src/errors/index.js';

describe('the public API of the package root (CONTRACT.md)', () => {
  it('exports every name the contract lists', () => {
    for (const name of ['ImageFs', 'openImage', 'ImageFsError', 'ImageError', 'RegistryError', 'FsError', 'constants',
      'MemoryCache', 'DiskCache', 'TieredCache', 'NoCache', 'analyzeEligibility', 'buildIndex', 'imageStreamingMemoryReservation']) {
      expect(api, name).toHaveProperty(name);
    }
  });

  it('has the renameat2 flags with their Linux values, frozen', () => {
    expect(api.constants).toEqual({ RENAME_NOREPLACE: 1, RENAME_EXCHANGE: 2, RENAME_WHITEOUT: 4 });
    expect(Object.isFrozen(api.constants)).toBe(true);
  });

  it('lists every error code the types allow, and FsError maps each to a negative errno', () => {
    const image: readonly ImageErrorCode[] = api.IMAGE_ERROR_CODES;
    const fs: readonly FsErrorCode[] = api.FS_ERROR_CODES;
    expect(new Set(image).size).toBe(image.length);
    for (const code of fs) {
      const e = new api.FsError(code, 'open', '/x');
      expect(e.errno, code).toBeLessThan(0);
      expect(e.message.startsWith(`${code}: `)).toBe(true);
    }
  });
});
