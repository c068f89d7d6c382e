import { describe, expect, it } from "vitest";
import { burstFor, TokenBucket, TokenBuckets } from "../../src/transport/token-buckets.js";

let clock = 0;
function limiter(rate: number, maxSources = 1000): TokenBuckets {
  clock = 1_000_000;
  return new TokenBuckets(rate, maxSources, () => clock);
}

describe("TokenBuckets", () => {
  it("lets a burst of twice the rate through, then drops until tokens refill at the rate", () => {
    const limit = limiter(10);
    expect(burstFor(10)).toBe(20);
    const first = Array.from({ length: 25 }, () => limit.allow("a"));
    expect(first.filter(Boolean)).toHaveLength(20);
    clock += 100; // one token at 10/s
    expect(limit.allow("a")).toBe(true);
    expect(limit.allow("a")).toBe(false);
  });

  it("keeps one bucket per source: a flooding source does not starve another", () => {
    const limit = limiter(1);
    expect([limit.allow("a"), limit.allow("a"), limit.allow("a")]).toEqual([true, true, false]);
    expect(limit.allow("b")).toBe(true);
  });

  it("allows everything with a rate of 0 (off), tracking nothing", () => {
    const limit = limiter(0);
    expect(Array.from({ length: 100 }, () => limit.allow("a")).every(Boolean)).toBe(true);
    expect(limit.trackedSources).toBe(0);
  });

  it("at its source cap forgets the sources seen longest ago, keeping at least the newest half", () => {
    const limit = limiter(1, 100);
    let peak = 0;
    for (let i = 0; i < 100_000; i++) {
      limit.allow(`spoofed-${i}`);
      peak = Math.max(peak, limit.trackedSources);
    }
    expect(peak).toBeLessThanOrEqual(100);
    expect(limit.trackedSources).toBeGreaterThanOrEqual(50);
    expect(limit.evicted + limit.trackedSources).toBe(100_000);
    // The newest sources are the ones kept: their buckets are still drained.
    expect(limit.allow("spoofed-99999")).toBe(true);
    expect(limit.allow("spoofed-99999")).toBe(false);
  });

  it("refuses nobody for the length of a backward clock step: a step back counts as no time", () => {
    const limit = limiter(10);
    let budgetClock = 1_000_000;
    const budget = new TokenBucket(5_000, () => budgetClock);
    expect([limit.allow("a"), budget.allow()]).toEqual([true, true]);
    clock -= 3_600_000; // the clock steps back an hour
    budgetClock -= 60_000;
    clock += 1_000;
    budgetClock += 1_000;
    expect([limit.allow("a"), budget.allow()]).toEqual([true, true]);
  });
});
