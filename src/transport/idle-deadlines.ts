// Deadlines of one length (idle timeouts, socket lifetimes) for every
// connection of a listener, without a timer each: all share one timeout, so
// the order in which deadlines were set is the order in which they expire.
// Re-arming is a Map delete + set (no Timeout object to allocate and cancel
// per command), and one sweep closes what expired, oldest first, in
// O(expired). The order holds only on a clock that never runs back: hence
// forwardOnly() over the monotonic clock.
import { type Clock, forwardOnly, monotonicMs } from "../util/monotonic.js";

export class IdleDeadlines<T> {
  private readonly deadlines = new Map<T, number>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: Clock;

  constructor(
    private readonly timeoutMs: number,
    private readonly onExpired: (item: T) => void,
    now: Clock = monotonicMs,
  ) {
    this.now = forwardOnly(now);
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
      this.onExpired(item);
    }
  }
}
