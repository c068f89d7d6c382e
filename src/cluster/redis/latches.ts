// Wake-ups that may arrive before anyone waits for them: a waiter arms a
// latch BEFORE the store step that makes it wait (the wake-up travels on the
// subscriber connection and can overtake the step's own reply), then waits on
// it. A latch fired early resolves at once; one never fired resolves null
// after its timeout. Every latch is disarmed by its waiter: nothing is kept.
/** A handle on one armed latch; V is what it resolves with. */
export interface Latch<V> {
  readonly key: string;
  readonly value: V | undefined;
}

interface Armed<V> {
  key: string;
  value: V | undefined;
  resolve: ((value: V | null) => void) | null;
}

export class Latches<V> {
  private readonly armed = new Map<string, Set<Armed<V>>>();

  /** Latches currently armed (bounded by the connects in flight). */
  get size(): number {
    let total = 0;
    for (const set of this.armed.values()) total += set.size;
    return total;
  }

  arm(key: string): Latch<V> {
    const latch: Armed<V> = { key, value: undefined, resolve: null };
    const set = this.armed.get(key) ?? new Set();
    set.add(latch);
    this.armed.set(key, set);
    return latch;
  }

  /** Fires every latch armed under `key`; true if any was. */
  fire(key: string, value: V): boolean {
    const set = this.armed.get(key);
    if (!set) return false;
    for (const latch of set) {
      if (latch.resolve) latch.resolve(value);
      else latch.value = value;
    }
    return true;
  }

  /** Resolves with the latch's value (at once if it already fired), or null after `timeoutMs`. */
  wait(handle: Latch<V>, timeoutMs: number): Promise<V | null> {
    const latch = handle as Armed<V>;
    if (latch.value !== undefined) {
      const value = latch.value;
      this.disarm(handle);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (value: V | null) => {
        clearTimeout(timer);
        latch.resolve = null;
        this.disarm(handle);
        resolve(value);
      };
      latch.resolve = finish;
    });
  }

  disarm(handle: Latch<V>): void {
    const latch = handle as Armed<V>;
    const set = this.armed.get(latch.key);
    if (!set) return;
    set.delete(latch);
    if (set.size === 0) this.armed.delete(latch.key);
  }

  /** Releases every waiter with null (shutting down). */
  clear(): void {
    for (const set of this.armed.values()) for (const latch of set) latch.resolve?.(null);
    this.armed.clear();
  }
}
