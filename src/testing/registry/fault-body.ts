import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

/** The body faults chosen for one response. */
export interface BodyPlan {
  /** Average rate cap, bytes per second. */
  bytesPerSecond?: number;
  /** Body offsets whose bytes are flipped. */
  flipOffsets?: number[];
  /** Reset the connection after this many body bytes. */
  resetAfter?: number;
  /** Close the connection normally after this many body bytes. */
  shortAfter?: number;
}

/**
 * Copies an upstream response body to the client applying a {@link BodyPlan}, and calls
 * `onBytes` for every byte count written. Resolves when the body was sent or cut as planned.
 *
 * The bandwidth cap is a lower bound on time: after `n` bytes at least `n / bytesPerSecond` seconds
 * have passed since the first byte was sent.
 *
 * @example
 * ```ts
 * await sendBody(upstream, res, { shortAfter: 100 }, (n) => (counters.bytesOut += n));
 * ```
 */
export async function sendBody(upstream: IncomingMessage, res: ServerResponse, plan: BodyPlan, onBytes: (n: number) => void): Promise<void> {
  const cut = Math.min(plan.resetAfter ?? Infinity, plan.shortAfter ?? Infinity);
  const flips = [...(plan.flipOffsets ?? [])].sort((a, b) => a - b);
  const slice = plan.bytesPerSecond === undefined ? Infinity : Math.max(1, Math.floor(plan.bytesPerSecond / 20));
  const t0 = Date.now();
  let sent = 0;
  const write = async (bytes: Buffer): Promise<void> => {
    for (let at = 0; at < bytes.length; at += slice) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + slice));
      if (plan.bytesPerSecond !== undefined) {
        const due = t0 + (sent * 1000) / plan.bytesPerSecond;
        if (due > Date.now()) await delay(due - Date.now());
      }
      if (res.destroyed) return;
      await new Promise<void>((resolve) => res.write(piece, () => resolve()));
      sent += piece.length;
      onBytes(piece.length);
    }
  };
  for await (const chunk of upstream) {
    let bytes = chunk as Buffer;
    const end = sent + bytes.length;
    if (flips.some((o) => o >= sent && o < end)) {
      bytes = Buffer.from(bytes);
      for (const o of flips) if (o >= sent && o < end) bytes[o - sent] = (bytes[o - sent] ?? 0) ^ 0xff;
    }
    if (end >= cut) {
      await write(bytes.subarray(0, cut - sent));
      upstream.destroy();
      await cutConnection(res, plan.resetAfter !== undefined && plan.resetAfter <= (plan.shortAfter ?? Infinity));
      return;
    }
    await write(bytes);
    if (res.destroyed) {
      upstream.destroy();
      return;
    }
  }
  if (plan.bytesPerSecond !== undefined) {
    const due = t0 + (sent * 1000) / plan.bytesPerSecond;
    if (due > Date.now()) await delay(due - Date.now());
  }
  res.end();
}

/** Ends the client connection mid-body: TCP RST (`reset`) or a normal FIN. */
async function cutConnection(res: ServerResponse, reset: boolean): Promise<void> {
  const socket = res.socket;
  if (socket === null) return;
  // Let the bytes already written leave before the connection goes.
  await delay(20);
  if (reset) socket.resetAndDestroy();
  else socket.end(() => socket.destroy());
}
