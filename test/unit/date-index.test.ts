import { describe, expect, it } from "vitest";
import { DateIndex } from "../../src/cluster/memory/date-index.js";

describe("DateIndex", () => {
  it("walks in insertion order from either end, a re-added item counting as newest", () => {
    const index = new DateIndex<string>();
    for (const ip of ["a", "b", "c"]) index.add(ip);
    index.add("a");
    expect([...index.walk(false)]).toEqual(["b", "c", "a"]);
    expect([...index.walk(true)]).toEqual(["a", "c", "b"]);
  });

  it("keeps order and size through removals and the compaction they trigger", () => {
    const index = new DateIndex<number>();
    for (let i = 0; i < 1_000; i++) index.add(i);
    for (let i = 0; i < 1_000; i += 3) index.remove(i);
    index.remove(12_345); // absent: nothing happens
    const expected = Array.from({ length: 1_000 }, (_, i) => i).filter((i) => i % 3 !== 0);
    expect(index.size).toBe(expected.length);
    expect([...index.walk(false)]).toEqual(expected);
    index.add(1); // re-added after compaction: newest
    expect([...index.walk(true)][0]).toBe(1);
  });
});
