// Per-source token buckets: a flood from one source is dropped at the door
// (counted and logged, never stored), while a game's occasional datagrams or
// commands pass. Sources are bounded: past the cap, the source first seen
// longest ago is forgotten in O(1) (it gets a fresh burst if it comes back, as
// every new source does anyway). A bucket is updated in place: one Map lookup
// per packet.

/** Every limit allows a burst of twice its rate per second: one rule for all of them. */
export function burstFor(ratePerSecond: number): number {
  return Math.max(2, ratePerSecond * 2);
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/** Takes one token from `bucket` at `nowMs`, refilling it at `rate` up to `burst`. */
function take(bucket: Bucket, nowMs: number, rate: number, burst: number): boolean {
  const tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * rate);
  bucket.atMs = nowMs;
  if (tokens < 1) {
    bucket.tokens = tokens;
    return false;
  }
  bucket.tokens = tokens - 1;
  return true;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  /** Sources forgotten to make room (the cap was reached). */
  evicted = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly maxSources: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = burstFor(ratePerSecond);
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Takes one token for `source`; false when its bucket is empty. A rate of 0 allows all. */
  allow(source: string): boolean {
    if (this.ratePerSecond <= 0) return true;
    const nowMs = this.now();
    const bucket = this.buckets.get(source);
    if (bucket) return take(bucket, nowMs, this.ratePerSecond, this.burst);
    if (this.buckets.size >= this.maxSources) {
      // Map iteration is insertion order: the first key is the source seen first.
      const first = this.buckets.keys().next();
      if (!first.done) this.buckets.delete(first.value);
      this.evicted++;
    }
    this.buckets.set(source, { tokens: this.burst - 1, atMs: nowMs });
    return true;
  }

  close(): void {
    this.buckets.clear();
  }
}

/** One bucket for a whole node (a budget, not a per-source limit). A rate of 0 allows all. */
export class TokenBucket {
  private readonly bucket: Bucket;
  private readonly burst: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = burstFor(ratePerSecond);
    this.bucket = { tokens: this.burst, atMs: now() };
  }

  allow(): boolean {
    return this.ratePerSecond <= 0 || take(this.bucket, this.now(), this.ratePerSecond, this.burst);
  }
}
