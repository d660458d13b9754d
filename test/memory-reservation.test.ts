import { describe, expect, it } from 'vitest';
import { imageStreamingMemoryReservation } from '../src/eligibility/memory-reservation.js';

const GiB = 1024 ** 3;

// Expected values come from the tier table written out longhand, independently of the loop.
const first4 = 4 * GiB * 0.01;
const next4 = 4 * GiB * 0.008;
const next8 = 8 * GiB * 0.004;
const next112 = 112 * GiB * 0.0024;

describe('imageStreamingMemoryReservation', () => {
  it('reserves nothing below 1 GiB and starts at exactly 1 GiB', () => {
    expect(imageStreamingMemoryReservation(0)).toBe(0);
    expect(imageStreamingMemoryReservation(GiB - 1)).toBe(0);
    expect(imageStreamingMemoryReservation(GiB)).toBe(Math.floor(GiB * 0.01));
  });

  it.each([
    ['4 GiB', 4 * GiB, first4],
    ['4 GiB + 1 GiB', 5 * GiB, first4 + GiB * 0.008],
    ['8 GiB', 8 * GiB, first4 + next4],
    ['16 GiB', 16 * GiB, first4 + next4 + next8],
    ['128 GiB', 128 * GiB, first4 + next4 + next8 + next112],
    ['256 GiB', 256 * GiB, first4 + next4 + next8 + next112 + 128 * GiB * 0.0008],
  ])('matches the table at %s', (_name, total, expected) => {
    expect(imageStreamingMemoryReservation(total)).toBe(Math.floor(expected));
  });

  it('grows by the next tier rate just past each boundary', () => {
    const step = 100 * 1024 ** 2;
    const rates: Array<[number, number]> = [[4 * GiB, 0.008], [8 * GiB, 0.004], [16 * GiB, 0.0024], [128 * GiB, 0.0008]];
    for (const [boundary, rate] of rates) {
      const delta = imageStreamingMemoryReservation(boundary + step) - imageStreamingMemoryReservation(boundary);
      expect(Math.abs(delta - step * rate)).toBeLessThanOrEqual(1);
    }
  });

  it('rejects negative or non-finite sizes with a TypeError', () => {
    expect(() => imageStreamingMemoryReservation(-1)).toThrow(TypeError);
    expect(() => imageStreamingMemoryReservation(Number.NaN)).toThrow(TypeError);
  });
});
