import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReplyPacer } from "../../src/transport/reply-pacer.js";

describe("ReplyPacer", () => {
  let writes: Array<{ atMs: number; reply: string }>;
  const sink = {
    write: (reply: Buffer) => writes.push({ atMs: Date.now(), reply: reply.toString() }),
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    writes = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes the first reply at once, each in its own write", () => {
    const pacer = new ReplyPacer(sink, 100, Number.POSITIVE_INFINITY, () => Date.now());
    pacer.send(Buffer.from("a"));
    expect(writes).toEqual([{ atMs: 1_000_000, reply: "a" }]);
    expect(pacer.pending).toBe(0);
  });

  it("spaces successive replies by at least the gap, in order", () => {
    const pacer = new ReplyPacer(sink, 100, Number.POSITIVE_INFINITY, () => Date.now());
    pacer.send(Buffer.from("a"));
    pacer.send(Buffer.from("b"));
    pacer.send(Buffer.from("c"));
    expect(writes.map((w) => w.reply)).toEqual(["a"]);
    expect(pacer.pending).toBe(2);
    vi.advanceTimersByTime(99);
    expect(writes).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(writes.map((w) => w.reply)).toEqual(["a", "b"]);
    vi.advanceTimersByTime(100);
    expect(writes).toEqual([
      { atMs: 1_000_000, reply: "a" },
      { atMs: 1_000_100, reply: "b" },
      { atMs: 1_000_200, reply: "c" },
    ]);
    expect(pacer.pending).toBe(0);
  });

  it("a reply after a long quiet spell goes out at once", () => {
    const pacer = new ReplyPacer(sink, 100, Number.POSITIVE_INFINITY, () => Date.now());
    pacer.send(Buffer.from("a"));
    vi.advanceTimersByTime(500);
    pacer.send(Buffer.from("b"));
    expect(writes.map((w) => w.atMs)).toEqual([1_000_000, 1_000_500]);
  });

  it("onDrained fires at once when idle, or after the last queued reply is written", () => {
    const pacer = new ReplyPacer(sink, 50, Number.POSITIVE_INFINITY, () => Date.now());
    const drained: number[] = [];
    pacer.onDrained(() => drained.push(Date.now()));
    expect(drained).toEqual([1_000_000]);
    pacer.send(Buffer.from("a"));
    pacer.send(Buffer.from("b"));
    pacer.onDrained(() => drained.push(Date.now()));
    expect(drained).toHaveLength(1);
    vi.advanceTimersByTime(50);
    expect(drained).toEqual([1_000_000, 1_000_050]);
    expect(writes.map((w) => w.reply)).toEqual(["a", "b"]);
  });

  it("stop drops queued replies, releases whoever waits for the drain, cancels the timer and ignores later sends", () => {
    const pacer = new ReplyPacer(sink, 50, Number.POSITIVE_INFINITY, () => Date.now());
    let drained = false;
    pacer.send(Buffer.from("a"));
    pacer.send(Buffer.from("b"));
    pacer.onDrained(() => {
      drained = true;
    });
    pacer.stop();
    pacer.send(Buffer.from("c"));
    vi.advanceTimersByTime(1000);
    expect(writes.map((w) => w.reply)).toEqual(["a"]);
    expect(pacer.pending).toBe(0);
    expect(drained).toBe(true); // a drain that waited on a closed socket must not hang

    expect(vi.getTimerCount()).toBe(0);
  });

  it("a zero gap writes every reply immediately", () => {
    const pacer = new ReplyPacer(sink, 0, Number.POSITIVE_INFINITY, () => Date.now());
    pacer.send(Buffer.from("a"));
    pacer.send(Buffer.from("b"));
    expect(writes.map((w) => w.reply)).toEqual(["a", "b"]);
  });

  it("refuses a reply that would wait behind maxQueued others, and queues again once they drain", () => {
    const pacer = new ReplyPacer(sink, 100, 2, () => Date.now());
    expect(pacer.send(Buffer.from("a"))).toBe(true); // written at once
    expect(pacer.send(Buffer.from("b"))).toBe(true);
    expect(pacer.send(Buffer.from("c"))).toBe(true);
    expect(pacer.send(Buffer.from("d"))).toBe(false);
    expect(pacer.pending).toBe(2);
    vi.advanceTimersByTime(100);
    expect(pacer.send(Buffer.from("e"))).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(writes.map((w) => w.reply)).toEqual(["a", "b", "c", "e"]);
  });

  it("a reply queued after the clock stepped back goes out one gap later, not a step later", () => {
    let clock = 1_000_000;
    const pacer = new ReplyPacer(sink, 50, Number.POSITIVE_INFINITY, () => clock);
    pacer.send(Buffer.from("a"));
    clock -= 60_000;
    pacer.send(Buffer.from("b"));
    pacer.send(Buffer.from("c"));
    vi.advanceTimersByTime(50);
    expect(writes.map((w) => w.reply)).toEqual(["a", "b"]);
    vi.advanceTimersByTime(50);
    expect(writes.map((w) => w.reply)).toEqual(["a", "b", "c"]);
    pacer.stop();
  });
});
