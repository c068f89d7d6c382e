import { afterEach, describe, expect, it } from "vitest";
import { PerSourceRateLimiter } from "../../src/transport/rate-limiter.js";

let clock = 0;
const limiters: PerSourceRateLimiter[] = [];
function limiter(rate: number, burst: number): PerSourceRateLimiter {
  clock = 1_000_000;
  const made = new PerSourceRateLimiter(rate, burst, () => clock);
  limiters.push(made);
  return made;
}
afterEach(() => {
  for (const made of limiters.splice(0)) made.close();
});

describe("PerSourceRateLimiter", () => {
  it("lets a burst through, then drops until tokens refill at the rate", () => {
    const limit = limiter(10, 20);
    const first = Array.from({ length: 25 }, () => limit.allow("a"));
    expect(first.filter(Boolean)).toHaveLength(20);
    clock += 100; // one token at 10/s
    expect(limit.allow("a")).toBe(true);
    expect(limit.allow("a")).toBe(false);
  });

  it("keeps one bucket per source: a flooding IP does not starve another", () => {
    const limit = limiter(1, 2);
    expect([limit.allow("a"), limit.allow("a"), limit.allow("a")]).toEqual([true, true, false]);
    expect(limit.allow("b")).toBe(true);
  });

  it("allows everything with a rate of 0 (off)", () => {
    const limit = limiter(0, 0);
    expect(Array.from({ length: 100 }, () => limit.allow("a")).every(Boolean)).toBe(true);
    expect(limit.trackedSources).toBe(0);
  });
});
