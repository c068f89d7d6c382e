// A bounded map for per-source state that strangers can create at will (a
// spoofed flood brings a new source with every packet). Two generations: new
// entries go into the current Map; when it is full it becomes the previous
// one and the old previous is dropped whole. Every operation is O(1)
// amortised, whatever the bound. (Deleting a Map's first key is not: V8 keeps
// deleted entries as holes until it rehashes, and finding the first key walks
// over all of them, so "evict the oldest" costs O(bound) per new source.)
// The newest entries are always kept, and an entry read again moves forward.

/** How much of the bound an entry takes (1 by default; a list of ports its length). */
export type Weigh<V> = (value: V) => number;

const one = (): number => 1;

export class GenerationalMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private currentWeight = 0;
  private previousWeight = 0;
  private readonly generationWeight: number;
  /** Generations started since construction (rotations). */
  generation = 0;
  /** Entries dropped with a whole generation since construction. */
  dropped = 0;

  /**
   * Holds at most `maxWeight` (more only for one entry heavier than half of
   * it) and at least the newest half of it. A value's weight must not change
   * while it is stored: replace it with set().
   */
  constructor(
    maxWeight: number,
    private readonly weigh: Weigh<V> = one,
  ) {
    this.generationWeight = Math.max(1, Math.floor(maxWeight / 2));
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** The total weight held (the number of entries with the default weight). */
  get weight(): number {
    return this.currentWeight + this.previousWeight;
  }

  /** The value of `key`; one found in the previous generation moves to the current one. */
  get(key: K): V | undefined {
    const value = this.current.get(key);
    if (value !== undefined || this.previous.size === 0) return value;
    const old = this.previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  has(key: K): boolean {
    return this.current.has(key) || this.previous.has(key);
  }

  /** Stores `key` as the newest entry (starting a new generation first if the current one is full). */
  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    if (this.current.size > 0 && this.currentWeight + weight > this.generationWeight) this.rotate();
    this.current.set(key, value);
    this.currentWeight += weight;
  }

  delete(key: K): boolean {
    const inCurrent = this.current.get(key);
    if (inCurrent !== undefined || this.current.has(key)) {
      this.currentWeight -= this.weigh(inCurrent as V);
      return this.current.delete(key);
    }
    const inPrevious = this.previous.get(key);
    if (inPrevious === undefined && !this.previous.has(key)) return false;
    this.previousWeight -= this.weigh(inPrevious as V);
    return this.previous.delete(key);
  }

  /** Drops the previous generation and makes the current one previous; returns how many entries went. */
  rotate(): number {
    const gone = this.previous.size;
    this.previous = this.current;
    this.previousWeight = this.currentWeight;
    this.current = new Map();
    this.currentWeight = 0;
    this.generation++;
    this.dropped += gone;
    return gone;
  }

  clear(): void {
    this.current = new Map();
    this.previous = new Map();
    this.currentWeight = 0;
    this.previousWeight = 0;
  }
}
