// Registrations in registration (= createdTime) order, walkable from either
// end, with O(1) removal: a removed slot is emptied and skipped, and the array
// is compacted once most of it is empty (amortised O(1) per removal). No
// object per entry: a slot array and a position map.
export class DateIndex<T> {
  private slots: Array<T | undefined> = [];
  private readonly positions = new Map<T, number>();

  get size(): number {
    return this.positions.size;
  }

  add(item: T): void {
    this.remove(item);
    this.positions.set(item, this.slots.length);
    this.slots.push(item);
  }

  remove(item: T): void {
    const position = this.positions.get(item);
    if (position === undefined) return;
    this.slots[position] = undefined;
    this.positions.delete(item);
    const empty = this.slots.length - this.positions.size;
    if (empty > 64 && empty > this.slots.length / 2) this.compact();
  }

  *walk(newestFirst: boolean): Generator<T> {
    const slots = this.slots;
    if (newestFirst) {
      for (let i = slots.length - 1; i >= 0; i--) {
        const item = slots[i];
        if (item !== undefined) yield item;
      }
    } else {
      for (const item of slots) if (item !== undefined) yield item;
    }
  }

  private compact(): void {
    const live: T[] = [];
    for (const item of this.slots) {
      if (item === undefined) continue;
      this.positions.set(item, live.length);
      live.push(item);
    }
    this.slots = live;
  }
}
