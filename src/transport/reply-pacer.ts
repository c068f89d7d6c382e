// GameMaker hands a game one networking event per TCP read and the GMnet
// scripts parse one reply per event, so two replies must never merge into one
// read: each reply goes out in one write, at least `gapMs` after the previous.
// The queue is bounded: a reply that would wait behind `maxQueued` others is
// refused, so its sender can answer otherwise (a stale -1 helps nobody).
import { type Clock, monotonicMs } from "../util/monotonic.js";

export interface ReplySink {
  write(reply: Buffer): void;
}

export class ReplyPacer {
  /** Replies waiting for their gap; null until one has to wait (most sockets never do). */
  private queue: Buffer[] | null = null;
  private lastWriteAtMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private drainedCallbacks: Array<() => void> | null = null;

  constructor(
    private readonly sink: ReplySink,
    private readonly gapMs: number,
    private readonly maxQueued = Number.POSITIVE_INFINITY,
    private readonly now: Clock = monotonicMs,
  ) {}

  get pending(): number {
    return this.queue?.length ?? 0;
  }

  /** Queues `reply`; false (nothing queued) when stopped or when `maxQueued` already wait. */
  send(reply: Buffer): boolean {
    if (this.stopped) return false;
    const waiting = this.pending;
    if (waiting === 0 && this.timer === null) {
      // The common case: nothing waits and the gap has passed: write now, queue nothing.
      const nowMs = this.now();
      if (nowMs - this.lastWriteAtMs >= this.gapMs) {
        this.sink.write(reply);
        this.lastWriteAtMs = nowMs;
        return true;
      }
    }
    if (waiting >= this.maxQueued) return false;
    this.queue ??= [];
    this.queue.push(reply);
    this.flush();
    return true;
  }

  /** Calls back once every queued reply has been written (at once if none are queued). */
  onDrained(callback: () => void): void {
    if (this.pending === 0) callback();
    else {
      this.drainedCallbacks ??= [];
      this.drainedCallbacks.push(callback);
    }
  }

  /** Drops what is queued; whoever waits for the queue to drain is released at once. */
  stop(): void {
    this.stopped = true;
    this.queue = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.releaseWaiters();
  }

  private flush(): void {
    if (this.timer || this.stopped) return;
    const queue = this.queue;
    while (queue && queue.length > 0) {
      // Never more than one gap, whatever a clock did since the last write.
      const waitMs = Math.min(this.gapMs, this.lastWriteAtMs + this.gapMs - this.now());
      if (waitMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          // The timer measured the gap: the reply goes out without asking the clock again.
          if (this.queue && this.queue.length > 0) this.writeNext(this.queue);
          this.flush();
        }, waitMs);
        return;
      }
      this.writeNext(queue);
    }
    this.releaseWaiters();
  }

  private writeNext(queue: Buffer[]): void {
    this.sink.write(queue.shift() as Buffer);
    this.lastWriteAtMs = this.now();
  }

  private releaseWaiters(): void {
    const callbacks = this.drainedCallbacks;
    if (callbacks === null) return;
    this.drainedCallbacks = null;
    for (const callback of callbacks) callback();
  }
}
