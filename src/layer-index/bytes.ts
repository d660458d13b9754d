import { dataLoss } from '../errors/image-fs-error.js';
import { decodeRawName, encodeRawName } from '../tar/raw-name.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/**
 * An append-only byte buffer with the primitives of the index format: LEB128 varints for
 * unsigned integers up to 2^53, zigzag for signed ones, little-endian fixed-width integers.
 */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  /** Bytes written so far. */
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Appends one byte. */
  u8(value: number): void {
    this.reserve(1);
    this.buf[this.length++] = value;
  }

  /** Appends an unsigned 32-bit little-endian integer. */
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  /** Overwrites an unsigned 32-bit little-endian integer at `at`. */
  setU32(at: number, value: number): void {
    this.view.setUint32(at, value, true);
  }

  /** Appends an unsigned LEB128 varint (0 ≤ value ≤ 2^53 - 1). */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as an unsigned varint`);
    this.reserve(8);
    while (value >= 0x80) {
      this.buf[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.length++] = value;
  }

  /** Appends a signed integer as a zigzag varint. */
  zigzag(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** Appends raw bytes. */
  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buf.set(value, this.length);
    this.length += value.length;
  }

  /** Appends a length-prefixed byte string. */
  blob(value: Uint8Array): void {
    this.varint(value.length);
    this.bytes(value);
  }

  /** Appends a length-prefixed UTF-8 string. */
  string(value: string): void {
    this.blob(encoder.encode(value));
  }

  /**
   * Appends a length-prefixed raw name: the exact bytes a raw-name string stands for (UTF-8, with
   * U+DC80..U+DCFF as the bytes 0x80..0xff; see `src/tar/raw-name.ts`).
   */
  name(value: string): void {
    this.blob(encodeRawName(value));
  }

  /** Pads with zeros to a multiple of `n`. */
  align(n: number): void {
    while (this.length % n !== 0) this.u8(0);
  }

  /** The bytes written (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * A bounds-checked reader over part of the index. Any read past `end` throws `DataLoss`, so a
 * corrupt index fails cleanly instead of returning garbage.
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    /** Current position (absolute in `bytes`). */
    public pos: number,
    private readonly end: number,
    private readonly what: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw dataLoss(`the index is corrupt: ${this.what} runs past its end at byte ${this.pos}`);
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads one byte. */
  u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  /** Reads an unsigned 32-bit little-endian integer. */
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Reads an unsigned LEB128 varint. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1);
      const byte = this.data[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw dataLoss(`the index is corrupt: a varint in ${this.what} is too long at byte ${this.pos}`);
  }

  /** Reads a zigzag varint. */
  zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  /** Reads `n` raw bytes (a view, not a copy). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads a length-prefixed byte string (a view). */
  blob(): Uint8Array {
    return this.bytes(this.varint());
  }

  /** Reads a length-prefixed UTF-8 string. */
  string(): string {
    return decoder.decode(this.blob());
  }

  /** Reads a length-prefixed raw name (bytes that are not UTF-8 come back as U+DC80..U+DCFF). */
  name(): string {
    return decodeRawName(this.blob());
  }
}
