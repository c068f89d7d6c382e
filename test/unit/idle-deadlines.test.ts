import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IdleDeadlines } from "../../src/transport/idle-deadlines.js";

describe("IdleDeadlines", () => {
  let clock: number;
  let closed: string[];
  let deadlines: IdleDeadlines<string>;

  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1_000_000;
    closed = [];
    deadlines = new IdleDeadlines(
      1_000,
      (item) => closed.push(item),
      () => clock,
    );
  });
  afterEach(() => {
    deadlines.close();
    vi.useRealTimers();
  });

  /** Moves the injected clock and lets the sweep run. */
  function advance(ms: number): void {
    clock += ms;
    vi.advanceTimersByTime(250);
  }

  it("closes an item one timeout after it was last armed, never one re-armed since", () => {
    deadlines.arm("a");
    deadlines.arm("b");
    advance(600);
    deadlines.arm("a");
    advance(500);
    expect(closed).toEqual(["b"]);
    advance(500);
    expect(closed).toEqual(["b", "a"]);
    deadlines.arm("c");
    deadlines.disarm("c");
    advance(2_000);
    expect(closed).toEqual(["b", "a"]);
  });

  it("closes what expired even after the clock stepped back", () => {
    deadlines.arm("before-step");
    clock -= 60_000;
    deadlines.arm("after-step");
    advance(2_000);
    expect(closed).toEqual(["before-step", "after-step"]);
  });
});
