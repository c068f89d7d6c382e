// Readings of a running cluster over time: once a second (by default) each
// node's RSS and /metrics, and Redis' key count and CPU. One scraper only:
// prom-client's event-loop-delay gauges describe the time since the previous
// scrape (each /metrics resets its histogram), so a second scraper would
// halve the window. Counters are summed across node restarts (a new
// process_start_time_seconds means a new process, counting from zero).
import { readFileSync } from "node:fs";
import type { BenchCluster } from "./cluster.js";

export interface NodeReading {
  rssMiB: number | null;
  /** prom-client nodejs_eventloop_lag_p99_seconds, in ms, over the time since the last scrape. */
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  /** gmnet_tcp_connections, all roles. */
  tcpConnections: number | null;
  /** V8 heap in use (nodejs_heap_size_used_bytes), MiB: tells retained memory from RSS V8 keeps. */
  heapUsedMiB: number | null;
  /** The process's CPU (user + system) since the previous sample, in % of one core. */
  cpuPercent: number | null;
}

export interface Sample {
  atSec: number;
  nodes: NodeReading[];
  redisKeys: number | null;
  /** Redis used_cpu_user + used_cpu_sys since its start (seconds). */
  redisCpuSec: number | null;
  /**
   * The whole machine's busy CPU since the previous sample, in % of one core
   * (200 = both cores of a 2-core box), and this process's own (the load
   * generator): what else ran on the box shows as the difference.
   */
  boxCpuPercent: number | null;
  generatorCpuPercent: number | null;
}

/** Busy and total jiffies of the whole machine (/proc/stat), or null off Linux. */
function boxJiffies(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Series name with labels (the exposition text before the value) → value. */
export type SeriesValues = Map<string, number>;

export function parseSeries(text: string, names: readonly string[]): SeriesValues {
  const values: SeriesValues = new Map();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space <= 0) continue;
    const series = line.slice(0, space);
    const name = series.split("{")[0] as string;
    if (!names.includes(name)) continue;
    values.set(series, Number(line.slice(space + 1)));
  }
  return values;
}

/** The label value `label` of a series text (`name{a="x",b="y"}`), or "". */
export function labelOf(series: string, label: string): string {
  return new RegExp(`${label}="([^"]*)"`).exec(series)?.[1] ?? "";
}

const PROCESS_START = "process_start_time_seconds";
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

export class ClusterSampler {
  readonly samples: Sample[] = [];
  /** Counter totals since start(), over every node and its restarts. */
  private readonly totals: SeriesValues = new Map();
  private readonly lastSeen: SeriesValues[];
  private readonly lastCpu: Array<{ pid: number; cpuSec: number; atMs: number } | undefined> = [];
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private startedMs = 0;
  private lastBox: { busy: number; total: number; atMs: number; generatorUs: number } | null = null;

  constructor(
    private readonly cluster: BenchCluster,
    /** Counter names summed in totals (e.g. gmnet_bad_input_total). */
    private readonly counters: readonly string[],
    private readonly everyMs = 1_000,
  ) {
    this.lastSeen = cluster.nodes.map(() => new Map());
  }

  /** Takes a baseline scrape (counters count from here), then samples every `everyMs`. */
  async start(): Promise<void> {
    this.startedMs = Date.now();
    await this.scrapeCounters(true);
    this.timer = setInterval(() => {
      if (this.sampling) return; // a slow scrape must not stack
      this.sampling = this.sample().finally(() => {
        this.sampling = null;
      });
    }, this.everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sampling;
    await this.scrapeCounters(false);
  }

  /** Seconds since start(), on the samples' clock. */
  nowSec(): number {
    return (Date.now() - this.startedMs) / 1000;
  }

  /** A copy of the counter totals now (diff two of them for a window). */
  snapshot(): SeriesValues {
    return new Map(this.totals);
  }

  /** Totals of one counter by one label, over `from`..`to` snapshots (to: now). */
  byLabel(
    name: string,
    label: string,
    from?: SeriesValues,
    to?: SeriesValues,
  ): Record<string, number> {
    const end = to ?? this.totals;
    const out: Record<string, number> = {};
    for (const [series, value] of end) {
      if (!series.startsWith(`${name}{`) && series !== name) continue;
      const delta = value - (from?.get(series) ?? 0);
      const key = labelOf(series, label);
      out[key] = (out[key] ?? 0) + delta;
    }
    return out;
  }

  private async sample(): Promise<void> {
    const atSec = Math.round((Date.now() - this.startedMs) / 100) / 10;
    const nodes = await Promise.all(
      this.cluster.nodes.map(async (node, index): Promise<NodeReading> => {
        if (!node.running)
          return {
            rssMiB: null,
            lagP99Ms: null,
            lagMaxMs: null,
            tcpConnections: null,
            heapUsedMiB: null,
            cpuPercent: null,
          };
        const rssMiB = mib(node.rssBytes());
        const cpuPercent = this.cpuPercent(index, node.pid, node.cpuSeconds());
        try {
          const text = await node.metricsText();
          this.addCounters(index, text, false);
          const lag = parseSeries(text, [
            "nodejs_eventloop_lag_p99_seconds",
            "nodejs_eventloop_lag_max_seconds",
            "nodejs_heap_size_used_bytes",
          ]);
          let tcpConnections = 0;
          for (const value of parseSeries(text, ["gmnet_tcp_connections"]).values())
            tcpConnections += value;
          const ms = (name: string) => {
            const value = lag.get(name);
            return value === undefined ? null : Math.round(value * 1e5) / 100;
          };
          return {
            rssMiB,
            lagP99Ms: ms("nodejs_eventloop_lag_p99_seconds"),
            lagMaxMs: ms("nodejs_eventloop_lag_max_seconds"),
            tcpConnections,
            heapUsedMiB: mib(lag.get("nodejs_heap_size_used_bytes") ?? 0),
            cpuPercent,
          };
        } catch {
          return {
            rssMiB,
            lagP99Ms: null,
            lagMaxMs: null,
            tcpConnections: null,
            heapUsedMiB: null,
            cpuPercent,
          };
        }
      }),
    );
    let redisKeys: number | null = null;
    let redisCpuSec: number | null = null;
    const redis = this.cluster.redis;
    if (redis) {
      try {
        redisKeys = Number(await redis.command("DBSIZE"));
        redisCpuSec = await redis.cpuSeconds();
      } catch {
        // Redis down (the soak restarts it): no reading this second
      }
    }
    this.samples.push({ atSec, nodes, redisKeys, redisCpuSec, ...this.boxCpu() });
  }

  /** The machine's and this process's CPU since the previous sample, % of one core. */
  private boxCpu(): { boxCpuPercent: number | null; generatorCpuPercent: number | null } {
    const jiffies = boxJiffies();
    const usage = process.cpuUsage();
    const generatorUs = usage.user + usage.system;
    const nowMs = Date.now();
    const last = this.lastBox;
    if (jiffies) this.lastBox = { ...jiffies, atMs: nowMs, generatorUs };
    if (!jiffies || !last || jiffies.total <= last.total) {
      return { boxCpuPercent: null, generatorCpuPercent: null };
    }
    const cores = (jiffies.total - last.total) / (((nowMs - last.atMs) / 1000) * 100); // USER_HZ 100
    const box = ((jiffies.busy - last.busy) / (jiffies.total - last.total)) * cores * 100;
    const generator = ((generatorUs - last.generatorUs) / 1e6 / ((nowMs - last.atMs) / 1000)) * 100;
    return {
      boxCpuPercent: Math.round(box),
      generatorCpuPercent: Math.round(generator),
    };
  }

  /** CPU since this node's previous reading (null on its first, or after a restart). */
  private cpuPercent(node: number, pid: number, cpuSec: number): number | null {
    const nowMs = Date.now();
    const last = this.lastCpu[node];
    this.lastCpu[node] = { pid, cpuSec, atMs: nowMs };
    if (!last || last.pid !== pid || nowMs <= last.atMs) return null;
    return Math.round(((cpuSec - last.cpuSec) / ((nowMs - last.atMs) / 1000)) * 1000) / 10;
  }

  private async scrapeCounters(baseline: boolean): Promise<void> {
    await Promise.all(
      this.cluster.nodes.map(async (node, index) => {
        if (!node.running) return;
        try {
          this.addCounters(index, await node.metricsText(), baseline);
        } catch {
          // down between the check and the scrape
        }
      }),
    );
  }

  private addCounters(node: number, text: string, baseline: boolean): void {
    const seen = this.lastSeen[node] as SeriesValues;
    const started = parseSeries(text, [PROCESS_START]).get(PROCESS_START);
    if (started !== undefined && started !== seen.get(PROCESS_START)) {
      // A new process: its counters start from zero (a baseline of an old one no longer applies).
      const wasKnown = seen.has(PROCESS_START);
      seen.clear();
      seen.set(PROCESS_START, started);
      if (wasKnown) baseline = false;
    }
    for (const [series, value] of parseSeries(text, this.counters)) {
      const delta = value - (seen.get(series) ?? 0);
      seen.set(series, value);
      if (baseline || delta === 0) continue;
      this.totals.set(series, (this.totals.get(series) ?? 0) + delta);
    }
  }
}
