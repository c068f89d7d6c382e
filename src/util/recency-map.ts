// A Map with a size cap and an age, for per-source state that strangers can
// create at will (a spoofed flood brings a new source with every packet):
// every operation is O(1), and when full the entry set longest ago gives way,
// so the newest (the real game that just sent) is what is kept.
export class RecencyMap<K, V> {
  private readonly entries = new Map<K, { value: V; atMs: number }>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** When `key` was last set, or undefined. */
  setAt(key: K): number | undefined {
    return this.entries.get(key)?.atMs;
  }

  /** Sets `key` as the newest entry; returns how many old entries gave way (0 or 1). */
  set(key: K, value: V, atMs: number): number {
    // Re-inserting moves the key to the end: Map iteration order is insertion order.
    this.entries.delete(key);
    this.entries.set(key, { value, atMs });
    if (this.entries.size <= this.maxEntries) return 0;
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
    return 1;
  }

  /** Replaces the value of an existing entry, keeping its place and time; false if absent. */
  update(key: K, value: V): boolean {
    const entry = this.entries.get(key);
    if (entry) entry.value = value;
    return entry !== undefined;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** When the entry set longest ago was set. */
  oldestAt(): number | undefined {
    const oldest = this.entries.values().next();
    return oldest.done ? undefined : oldest.value.atMs;
  }

  /** Removes and returns the entry set longest ago. */
  shift(): [K, V] | undefined {
    const oldest = this.entries.entries().next();
    if (oldest.done) return undefined;
    this.entries.delete(oldest.value[0]);
    return [oldest.value[0], oldest.value[1].value];
  }

  /** Drops entries set before `cutoffMs`, oldest first: O(dropped), not O(size). */
  expire(cutoffMs: number): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.atMs >= cutoffMs) break;
      this.entries.delete(key);
      dropped++;
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
  }

  values(): IterableIterator<V> {
    const iterator = this.entries.values();
    return (function* () {
      for (const entry of iterator) yield entry.value;
    })();
  }
}
