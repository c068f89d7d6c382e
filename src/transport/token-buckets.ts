// Per-source token buckets: a flood from one source is dropped at the door
// (counted and logged, never stored), while a game's occasional datagrams or
// commands pass. Sources are bounded: past the cap, the sources not seen for
// longest are forgotten a generation at a time, O(1) amortised per new source
// (one that comes back gets a fresh burst, as every new source does anyway).
// A bucket is updated in place: one Map lookup per packet.
import { GenerationalMap } from "../util/generational-map.js";
import { type Clock, forwardOnly, monotonicMs } from "../util/monotonic.js";

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
  private readonly buckets: GenerationalMap<string, Bucket>;
  private readonly burst: number;
  private readonly now: Clock;

  constructor(
    private readonly ratePerSecond: number,
    maxSources: number,
    now: Clock = monotonicMs,
  ) {
    this.burst = burstFor(ratePerSecond);
    this.buckets = new GenerationalMap(maxSources);
    this.now = forwardOnly(now);
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Sources forgotten to make room (the cap was reached). */
  get evicted(): number {
    return this.buckets.dropped;
  }

  /** Takes one token for `source`; false when its bucket is empty. A rate of 0 allows all. */
  allow(source: string): boolean {
    if (this.ratePerSecond <= 0) return true;
    const nowMs = this.now();
    const bucket = this.buckets.get(source);
    if (bucket) return take(bucket, nowMs, this.ratePerSecond, this.burst);
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
  private readonly now: Clock;

  constructor(
    private readonly ratePerSecond: number,
    now: Clock = monotonicMs,
  ) {
    this.burst = burstFor(ratePerSecond);
    this.now = forwardOnly(now);
    this.bucket = { tokens: this.burst, atMs: this.now() };
  }

  allow(): boolean {
    return this.ratePerSecond <= 0 || take(this.bucket, this.now(), this.ratePerSecond, this.burst);
  }
}
