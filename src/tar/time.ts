/**
 * Integer times and Go's decimal number rules for tar metadata.
 *
 * Tar times are kept as whole seconds (floor, negative before 1970) and nanoseconds
 * (0..999,999,999), never as floating-point seconds, so nothing is lost to rounding.
 */

/** A point in time: `sec` whole seconds since the epoch (floor) and `nsec` in 0..999,999,999. */
export interface TarTime {
  sec: number;
  nsec: number;
}

const DECIMAL = /^[+-]?[0-9]+$/;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;

/** Why {@link parseGoInt} refused a text: not a number as Go reads one, or beyond what imagefs holds. */
export type IntRefusal = 'syntax' | 'range';

/**
 * Parses a decimal integer as Go's `strconv.ParseInt(s, 10, 64)` does (optional sign, ASCII
 * digits, nothing else, within int64), and then requires it to be a safe JavaScript integer.
 *
 * @returns the number, or the reason it was refused.
 *
 * @example
 * ```ts
 * parseGoInt('+42');  // 42
 * parseGoInt('4 2');  // 'syntax'
 * parseGoInt('9007199254740993'); // 'range'
 * ```
 */
export function parseGoInt(text: string): number | IntRefusal {
  if (!DECIMAL.test(text)) return 'syntax';
  if (text.length <= 16) return Number(text) + 0; // + 0: no -0
  const big = BigInt(text);
  if (big > INT64_MAX || big < INT64_MIN) return 'range';
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : 'range';
}

/**
 * Parses a PAX time record (`mtime`, `atime`, `ctime`) as Go's `parsePAXTime` does: seconds as a
 * signed decimal integer, then optionally `.` and a fraction of digits only, kept to nine digits
 * (padded or truncated). When the seconds text starts with `-` the fraction counts backwards
 * (`-1.5` is one and a half seconds before the epoch: `{ sec: -2, nsec: 500000000 }`).
 *
 * @returns the time, or the reason it was refused.
 *
 * @example
 * ```ts
 * parsePaxTime('1700000000.123456789'); // { sec: 1700000000, nsec: 123456789 }
 * parsePaxTime('-0.5');                 // { sec: -1, nsec: 500000000 }
 * ```
 */
export function parsePaxTime(text: string): TarTime | IntRefusal {
  const dot = text.indexOf('.');
  const secText = dot < 0 ? text : text.slice(0, dot);
  const fraction = dot < 0 ? '' : text.slice(dot + 1);
  const sec = parseGoInt(secText);
  if (typeof sec !== 'number') return sec;
  if (fraction.length === 0) return { sec, nsec: 0 };
  if (!/^[0-9]+$/.test(fraction)) return 'syntax';
  const nsec = Number(fraction.length < 9 ? fraction.padEnd(9, '0') : fraction.slice(0, 9));
  if (secText.startsWith('-') && nsec > 0) {
    const floor = sec - 1;
    if (!Number.isSafeInteger(floor)) return 'range';
    return { sec: floor, nsec: 1_000_000_000 - nsec };
  }
  return { sec, nsec };
}
