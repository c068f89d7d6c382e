// GameMaker hands a game one networking event per TCP read and the GMnet
// scripts parse one reply per event, so two replies must never merge into one
// read: each reply goes out in one write, at least `gapMs` after the previous.
// The queue is bounded: a reply that would wait behind `maxQueued` others is
// refused, so its sender can answer otherwise (a stale -1 helps nobody).
export interface ReplySink {
  write(reply: Buffer): void;
}

export class ReplyPacer {
  private readonly queue: Buffer[] = [];
  private lastWriteAtMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private drainedCallbacks: Array<() => void> = [];

  constructor(
    private readonly sink: ReplySink,
    private readonly gapMs: number,
    private readonly maxQueued = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  /** Queues `reply`; false (nothing queued) when stopped or when `maxQueued` already wait. */
  send(reply: Buffer): boolean {
    if (this.stopped || this.queue.length >= this.maxQueued) return false;
    this.queue.push(reply);
    this.flush();
    return true;
  }

  /** Calls back once every queued reply has been written (at once if none are queued). */
  onDrained(callback: () => void): void {
    if (this.queue.length === 0) callback();
    else this.drainedCallbacks.push(callback);
  }

  /** Drops what is queued; whoever waits for the queue to drain is released at once. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const callbacks = this.drainedCallbacks;
    this.drainedCallbacks = [];
    for (const callback of callbacks) callback();
  }

  private flush(): void {
    if (this.timer || this.stopped) return;
    while (this.queue.length > 0) {
      const waitMs = this.lastWriteAtMs + this.gapMs - this.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.flush();
        }, waitMs);
        return;
      }
      this.sink.write(this.queue.shift() as Buffer);
      this.lastWriteAtMs = this.now();
    }
    const callbacks = this.drainedCallbacks;
    this.drainedCallbacks = [];
    for (const callback of callbacks) callback();
  }
}
