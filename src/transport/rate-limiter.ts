// Per-source token buckets: a flood from one address is dropped at the door
// (counted and logged, never stored), while a game's occasional datagrams pass.
/** Sources tracked one by one; past this (a spoofed flood) new ones share one bucket. */
export const MAX_TRACKED_SOURCES = 100_000;
const OVERFLOW_SOURCE = "*overflow*";

export class PerSourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    // Buckets that refilled completely carry no information: drop them.
    this.sweepTimer = setInterval(() => this.sweep(), 10_000);
    this.sweepTimer.unref();
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Takes one token for `source`; false when its bucket is empty. */
  allow(source: string): boolean {
    if (this.ratePerSecond <= 0) return true;
    const nowMs = this.now();
    let key = source;
    if (!this.buckets.has(key) && this.buckets.size >= MAX_TRACKED_SOURCES) key = OVERFLOW_SOURCE;
    const bucket = this.buckets.get(key);
    if (!bucket) {
      this.buckets.set(key, { tokens: this.burst - 1, atMs: nowMs });
      return true;
    }
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((nowMs - bucket.atMs) / 1000) * this.ratePerSecond,
    );
    bucket.atMs = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.buckets.clear();
  }

  private sweep(): void {
    const nowMs = this.now();
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [source, bucket] of this.buckets) {
      if (nowMs - bucket.atMs >= fullAfterMs) this.buckets.delete(source);
    }
  }
}
