// Per-source token buckets: a flood from one address is dropped at the door
// (counted and logged, never stored), while a game's occasional datagrams pass.
/**
 * Sources tracked at once. Past this (a spoofed flood: every new source gets a
 * fresh burst anyway, so tracking cannot stop it) new sources pass untracked
 * until the sweep frees room, rather than starving real games in a shared bucket.
 */
export const MAX_TRACKED_SOURCES = 100_000;

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
    const bucket = this.buckets.get(source);
    if (!bucket) {
      if (this.buckets.size < MAX_TRACKED_SOURCES)
        this.buckets.set(source, { tokens: this.burst - 1, atMs: nowMs });
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
