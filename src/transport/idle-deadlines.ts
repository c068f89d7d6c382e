// Idle timeouts for every connection of a listener, without a timer each: all
// share one timeout, so the order in which deadlines were set is the order in
// which they expire. Re-arming is a Map delete + set (no Timeout object to
// allocate and cancel per command), and one sweep closes what expired,
// oldest first, in O(expired).
export class IdleDeadlines<T> {
  private readonly deadlines = new Map<T, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {
    // A close may come up to a quarter of the timeout late: idle is idle.
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(250, timeoutMs / 4)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.deadlines.size;
  }

  /** Starts (or restarts) `item`'s idle timeout. */
  arm(item: T): void {
    this.deadlines.delete(item);
    this.deadlines.set(item, this.now() + this.timeoutMs);
  }

  disarm(item: T): void {
    this.deadlines.delete(item);
  }

  isArmed(item: T): boolean {
    return this.deadlines.has(item);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.deadlines.clear();
  }

  private sweep(): void {
    const nowMs = this.now();
    for (const [item, deadline] of this.deadlines) {
      if (deadline > nowMs) return;
      this.deadlines.delete(item);
      this.onIdle(item);
    }
  }
}
