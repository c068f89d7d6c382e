// The bounded map behind every per-source table: bounded whatever a flood
// does, the newest entries kept, and no walk over the map on any operation
// (a walk is what made "evict the oldest" cost O(cap) per new source).
import { afterEach, describe, expect, it } from "vitest";
import { GenerationalMap } from "../../src/util/generational-map.js";

describe("GenerationalMap", () => {
  it("never holds more than its bound, and always the newest half of it", () => {
    const map = new GenerationalMap<string, number>(1_000);
    let peak = 0;
    let lost = 0;
    for (let i = 0; i < 20_000; i++) {
      map.set(`k${i}`, i);
      peak = Math.max(peak, map.size);
      if (i >= 500 && !map.has(`k${i - 499}`)) lost++; // has() moves nothing
    }
    expect([peak, lost]).toEqual([1_000, 0]);
    expect(map.dropped + map.size).toBe(20_000);
  });

  it("keeps an entry that is read again, however many new ones arrive", () => {
    const map = new GenerationalMap<string, number>(100);
    map.set("game", 1);
    for (let i = 0; i < 10_000; i++) {
      map.set(`spoofed-${i}`, i);
      expect(map.get("game")).toBe(1);
    }
    expect(map.size).toBeLessThanOrEqual(100);
  });

  it("bounds the total weight when entries weigh more than one", () => {
    const map = new GenerationalMap<string, number[]>(1_000, (ports) => ports.length);
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      map.set(
        `ip${i}`,
        Array.from({ length: 1 + (i % 4) }, (_, port) => port),
      );
      map.set(`ip${i >> 1}`, [1]); // re-set with another weight
      peak = Math.max(peak, map.weight);
    }
    expect(peak).toBeLessThanOrEqual(1_000);
    map.delete("ip9999");
    map.delete("ip4999");
    const expected = [...Array(10_000).keys()]
      .map((i) => map.get(`ip${i}`)?.length ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(map.weight).toBe(expected);
  });

  it("rotate() drops the previous generation whole and keeps the current one", () => {
    const map = new GenerationalMap<string, number>(100);
    map.set("old", 1);
    map.rotate();
    map.set("new", 2);
    expect(map.rotate()).toBe(1);
    expect([map.has("old"), map.get("new")]).toEqual([false, 2]);
  });

  describe("costs O(1) per operation at any bound", () => {
    const walks = { count: 0 };
    const originals = {
      keys: Map.prototype.keys,
      values: Map.prototype.values,
      entries: Map.prototype.entries,
      forEach: Map.prototype.forEach,
      iterator: Map.prototype[Symbol.iterator],
    };
    afterEach(() => {
      Object.assign(Map.prototype, {
        keys: originals.keys,
        values: originals.values,
        entries: originals.entries,
        forEach: originals.forEach,
      });
      Map.prototype[Symbol.iterator] = originals.iterator;
    });

    it("never walks a Map while a flood of new keys passes its bound", () => {
      const map = new GenerationalMap<string, number>(10_000);
      const counted = <A extends unknown[], R>(
        original: (this: Map<unknown, unknown>, ...args: A) => R,
      ) =>
        function (this: Map<unknown, unknown>, ...args: A): R {
          walks.count++;
          return original.apply(this, args);
        };
      Map.prototype.keys = counted(originals.keys);
      Map.prototype.values = counted(originals.values);
      Map.prototype.entries = counted(originals.entries);
      Map.prototype.forEach = counted(originals.forEach);
      Map.prototype[Symbol.iterator] = counted(originals.iterator);
      for (let i = 0; i < 100_000; i++) {
        map.set(`s${i}`, i);
        map.get(`s${i >> 1}`);
      }
      expect(walks.count).toBe(0);
      expect(map.size).toBeLessThanOrEqual(10_000);
    });
  });
});
