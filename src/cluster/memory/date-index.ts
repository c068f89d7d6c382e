// Registrations in registration (= createdTime) order, walkable from either
// end, with O(1) removal: a removed entry is marked and skipped, and the array
// is compacted once most of it is dead (amortised O(1) per removal).
export class DateIndex<T> {
  private entries: Array<{ item: T; live: boolean }> = [];
  private dead = 0;
  private readonly positions = new Map<T, { item: T; live: boolean }>();

  get size(): number {
    return this.positions.size;
  }

  add(item: T): void {
    this.remove(item);
    const entry = { item, live: true };
    this.entries.push(entry);
    this.positions.set(item, entry);
  }

  remove(item: T): void {
    const entry = this.positions.get(item);
    if (!entry) return;
    entry.live = false;
    this.positions.delete(item);
    this.dead++;
    if (this.dead > 64 && this.dead > this.entries.length / 2) {
      this.entries = this.entries.filter((e) => e.live);
      this.dead = 0;
    }
  }

  *walk(newestFirst: boolean): Generator<T> {
    const entries = this.entries;
    if (newestFirst) {
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i] as { item: T; live: boolean };
        if (entry.live) yield entry.item;
      }
    } else {
      for (const entry of entries) if (entry.live) yield entry.item;
    }
  }
}
