/**
 * Foreground first: background transfers of an image wait while any foreground fetch runs.
 * @module
 */

/**
 * Counts the foreground fetches of one opened image, so that background work (the background
 * download, prefetch) starts a request only while none is running. A foreground read therefore
 * never queues behind background transfer; at most the one background request already on the
 * wire shares the link with it (keep those requests small).
 *
 * @example
 * ```ts
 * const priority = new FetchPriority();
 * const done = priority.begin();   // a foreground fetch starts
 * void priority.idle().then(() => console.log('background may go'));
 * done();                          // ... and ends: the background resumes
 * ```
 */
export class FetchPriority {
  private active = 0;
  private lastEnd = -Infinity;
  private waiters: Array<() => void> = [];

  /** Foreground fetches running now. */
  get foreground(): number {
    return this.active;
  }

  /**
   * Milliseconds since the last foreground fetch ended: 0 while one runs, `Infinity` before the
   * first. Background work keeps its requests small while this is short (reads come in bursts).
   */
  sinceForeground(): number {
    return this.active > 0 ? 0 : performance.now() - this.lastEnd;
  }

  /** Marks a foreground fetch as started; call the returned function (once) when it ends. */
  begin(): () => void {
    this.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.active--;
      this.lastEnd = performance.now();
      if (this.active === 0) this.wake();
    };
  }

  /** Resolves when no foreground fetch runs (at once when none does). */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
