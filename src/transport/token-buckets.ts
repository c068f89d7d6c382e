// Per-source token buckets: a flood from one source is dropped at the door
// (counted and logged, never stored), while a game's occasional datagrams or
// commands pass. Sources are bounded: past the cap, the source seen longest
// ago is forgotten in O(1) (it gets a fresh burst if it comes back, as every
// new source does anyway).
import { RecencyMap } from "../util/recency-map.js";

/** Every limit allows a burst of twice its rate per second: one rule for all of them. */
export function burstFor(ratePerSecond: number): number {
  return Math.max(2, ratePerSecond * 2);
}

interface Bucket {
  tokens: number;
}

export class TokenBuckets {
  private readonly buckets: RecencyMap<string, Bucket>;
  private readonly burst: number;
  /** Sources forgotten to make room (the cap was reached). */
  evicted = 0;

  constructor(
    private readonly ratePerSecond: number,
    maxSources: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = burstFor(ratePerSecond);
    this.buckets = new RecencyMap(maxSources);
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Takes one token for `source`; false when its bucket is empty. A rate of 0 allows all. */
  allow(source: string): boolean {
    if (this.ratePerSecond <= 0) return true;
    const nowMs = this.now();
    const bucket = this.buckets.get(source);
    const lastMs = this.buckets.setAt(source) ?? nowMs;
    const tokens = bucket
      ? Math.min(this.burst, bucket.tokens + ((nowMs - lastMs) / 1000) * this.ratePerSecond)
      : this.burst;
    const allowed = tokens >= 1;
    this.evicted += this.buckets.set(source, { tokens: allowed ? tokens - 1 : tokens }, nowMs);
    return allowed;
  }

  close(): void {
    this.buckets.clear();
  }
}
