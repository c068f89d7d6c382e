// The status page's counter history: a bounded ring buffer of samples turned
// into rates per second, with a timer that never outlives close().
import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CounterHistory, RingBuffer } from "../../src/http/status/counter-history.js";

describe("RingBuffer", () => {
  it("keeps the newest items up to its capacity, oldest first", () => {
    const buffer = new RingBuffer<number>(3);
    expect(buffer.toArray()).toEqual([]);
    for (const n of [1, 2]) buffer.push(n);
    expect(buffer.toArray()).toEqual([1, 2]);
    for (const n of [3, 4, 5]) buffer.push(n);
    expect(buffer.toArray()).toEqual([3, 4, 5]);
    expect(buffer.size).toBe(3);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

function counters() {
  const registry = new Registry();
  const make = (name: string, label: string) =>
    new Counter({ name, help: name, labelNames: [label], registers: [registry] });
  return {
    connects: make("c", "outcome"),
    lobby: make("l", "result"),
    badInput: make("b", "reason"),
  };
}

function historyOf(c: ReturnType<typeof counters>, clock: { ms: number }, windowMs = 5_000) {
  return new CounterHistory(
    {
      connects: { counter: c.connects, label: "outcome" },
      lobby: { counter: c.lobby, label: "result" },
      badInput: { counter: c.badInput, label: "reason" },
    },
    { intervalMs: 1_000, windowMs, now: () => clock.ms },
  );
}

describe("CounterHistory", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("turns counter samples into events per second per label, from the real time between samples", async () => {
    const c = counters();
    const clock = { ms: 10_000 };
    const history = historyOf(c, clock);
    c.connects.inc({ outcome: "found" }, 5); // before the baseline: not a rate
    await history.sample();
    clock.ms += 1_000;
    c.connects.inc({ outcome: "found" }, 3);
    await history.sample();
    clock.ms += 2_000; // a late sample: 4 events over 2 s
    c.connects.inc({ outcome: "found" }, 4);
    c.connects.inc({ outcome: "not_found" }, 1); // a label born between two samples counts from 0
    c.badInput.inc({ reason: "garbage" }, 2);
    await history.sample();

    const rates = history.rates();
    expect(rates.intervalMs).toBe(1_000);
    expect(rates.timesMs).toEqual([11_000, 13_000]);
    expect(rates.rates.connects).toEqual({ found: [3, 2], not_found: [0, 0.5] });
    expect(rates.rates.badInput).toEqual({ garbage: [0, 1] });
    expect(rates.rates.lobby).toEqual({});
    expect(rates.totals.connects).toEqual({ found: 12, not_found: 1 });
  });

  it("holds only the window: the oldest samples fall out", async () => {
    const c = counters();
    const clock = { ms: 0 };
    const history = historyOf(c, clock, 3_000);
    for (let i = 0; i < 10; i++) {
      c.lobby.inc({ result: "ok" }, i);
      await history.sample();
      clock.ms += 1_000;
    }
    const rates = history.rates();
    expect(rates.timesMs).toEqual([7_000, 8_000, 9_000]);
    expect(rates.rates.lobby.ok).toEqual([7, 8, 9]);
  });

  it("has no rates before two samples", async () => {
    const history = historyOf(counters(), { ms: 0 });
    expect(history.rates().timesMs).toEqual([]);
    await history.sample();
    expect(history.rates().timesMs).toEqual([]);
  });

  it("samples once per interval after start, and close() stops its timer", async () => {
    vi.useFakeTimers();
    const c = counters();
    const clock = { ms: 0 };
    const history = historyOf(c, clock);
    history.start();
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 3; i++) {
      clock.ms += 1_000;
      c.connects.inc({ outcome: "found" });
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(history.rates().rates.connects.found).toEqual([1, 1, 1]);
    history.close();
    expect(vi.getTimerCount()).toBe(0);
    await history.sample(); // a sample after close is ignored
    expect(history.rates().timesMs).toHaveLength(3);
  });
});
