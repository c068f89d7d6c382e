// Samples a node's own counters once a second into a bounded ring buffer, so
// the status page can chart rates per second over the last minutes without
// a Prometheus server.
import type { MasterMetrics } from "../../metrics.js";

/** The counter families the page charts. */
export type CounterFamily = "connects" | "lobby" | "badInput";

const FAMILIES: readonly CounterFamily[] = ["connects", "lobby", "badInput"];

/** The part of a prom-client counter this reads: its samples and their labels. */
export interface CounterLike {
  get(): Promise<{
    values: ReadonlyArray<{ labels: Partial<Record<string, string | number>>; value: number }>;
  }>;
}

/** A counter and the one label its series are split by. */
export interface CounterSpec {
  counter: CounterLike;
  label: string;
}

export interface RateHistory {
  intervalMs: number;
  /** The end of each interval (unix ms), oldest first. */
  timesMs: number[];
  /** Per family and label value: events per second in each interval (as long as `timesMs`). */
  rates: Record<CounterFamily, Record<string, number[]>>;
  /** Per family and label value: the counter at the last sample (since the node started). */
  totals: Record<CounterFamily, Record<string, number>>;
}

interface Sample {
  atMs: number;
  totals: Record<CounterFamily, Map<string, number>>;
}

/** A fixed-capacity FIFO: pushing onto a full buffer drops the oldest item. */
export class RingBuffer<T> {
  private readonly items: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    this.items[(this.head + this.count) % this.capacity] = item;
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    return Array.from(
      { length: this.count },
      (_, i) => this.items[(this.head + i) % this.capacity] as T,
    );
  }
}

export interface CounterHistoryOptions {
  intervalMs: number;
  /** How far back rates go; the buffer holds windowMs / intervalMs intervals. */
  windowMs: number;
  now?: () => number;
}

export class CounterHistory {
  private readonly samples: RingBuffer<Sample>;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;
  private closed = false;

  constructor(
    private readonly counters: Record<CounterFamily, CounterSpec>,
    private readonly options: CounterHistoryOptions,
  ) {
    // One more sample than intervals: each rate is the difference of two samples.
    this.samples = new RingBuffer(Math.ceil(options.windowMs / options.intervalMs) + 1);
    this.now = options.now ?? Date.now;
  }

  /** Takes a first sample at once (the baseline), then one per interval. */
  start(): void {
    if (this.timer || this.closed) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.intervalMs);
    // Sampling is for the page only: it must never keep the process alive.
    this.timer.unref();
  }

  async sample(): Promise<void> {
    // A slow read (a busy event loop) must not stack samples on top of each other.
    if (this.sampling || this.closed) return;
    this.sampling = true;
    try {
      const atMs = this.now();
      const read = await Promise.all(FAMILIES.map((family) => this.read(family)));
      const totals = Object.fromEntries(FAMILIES.map((family, i) => [family, read[i]])) as Record<
        CounterFamily,
        Map<string, number>
      >;
      this.samples.push({ atMs, totals });
    } finally {
      this.sampling = false;
    }
  }

  rates(): RateHistory {
    const samples = this.samples.toArray();
    const history: RateHistory = {
      intervalMs: this.options.intervalMs,
      timesMs: samples.slice(1).map((s) => s.atMs),
      rates: { connects: {}, lobby: {}, badInput: {} },
      totals: { connects: {}, lobby: {}, badInput: {} },
    };
    const last = samples.at(-1);
    if (!last) return history;
    for (const family of FAMILIES) {
      for (const [label, value] of last.totals[family]) history.totals[family][label] = value;
      // Every label seen in the window gets a series, even if it stopped moving.
      const labels = new Set<string>();
      for (const sample of samples)
        for (const label of sample.totals[family].keys()) labels.add(label);
      for (const label of [...labels].sort()) {
        history.rates[family][label] = samples.slice(1).map((sample, i) => {
          const previous = samples[i] as Sample;
          const seconds = (sample.atMs - previous.atMs) / 1000;
          // A label missing from the earlier sample was created (from 0) since then.
          const delta =
            (sample.totals[family].get(label) ?? 0) - (previous.totals[family].get(label) ?? 0);
          return seconds > 0 && delta > 0 ? Math.round((delta / seconds) * 1000) / 1000 : 0;
        });
      }
    }
    return history;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async read(family: CounterFamily): Promise<Map<string, number>> {
    const spec = this.counters[family];
    const totals = new Map<string, number>();
    for (const { labels, value } of (await spec.counter.get()).values) {
      // Series exist from the start at 0 (for alerts); a chart shows only what happened.
      if (value === 0) continue;
      const label = String(labels[spec.label] ?? "");
      totals.set(label, (totals.get(label) ?? 0) + value);
    }
    return totals;
  }
}

/** The history the status page shows: connect outcomes, lobby requests, bad input; 5 minutes by the second. */
export function masterCounterHistory(metrics: MasterMetrics): CounterHistory {
  return new CounterHistory(
    {
      connects: { counter: metrics.connectOutcomes, label: "outcome" },
      lobby: { counter: metrics.lobbyRequests, label: "result" },
      badInput: { counter: metrics.badInput, label: "reason" },
    },
    { intervalMs: 1_000, windowMs: 5 * 60_000 },
  );
}
