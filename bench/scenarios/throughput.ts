// compare, ramp and rediscost: the same load against memory / Redis one node /
// Redis three nodes (cross-node connects), the highest sustainable rate per
// mode, and the Redis commands each connect costs.
import { formatLatency } from "../lib/histogram.js";
import { BenchCluster, type Mode } from "../lib/cluster.js";
import { type RunResult, ServerFleet, wrongReplies } from "../lib/load.js";
import type { CommonOptions } from "../run.js";
import { bucketPercentileMs, histogramBuckets } from "../lib/procs.js";

const log = (text: string) => process.stderr.write(`${text}\n`);

async function withFleet<T>(
  mode: Mode,
  options: CommonOptions,
  work: (cluster: BenchCluster, fleet: ServerFleet) => Promise<T>,
): Promise<T> {
  const cluster = await BenchCluster.start({
    mode,
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: options.cpuProfileDir,
    fdLimit: 65536,
  });
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    servers: options.servers,
    tag: `bench-${mode}`,
    pingIntervalMs: 5_000,
  });
  try {
    await fleet.start();
    await fleet.prepareClients(options.clients);
    await cluster.confirmRegistered(fleet);
    log(`${mode}: ${options.servers} servers registered on ${cluster.nodes.length} node(s)`);
    return await work(cluster, fleet);
  } finally {
    fleet.close();
    await cluster.stop();
  }
}

export interface MeasuredRun extends RunResult {
  mode: Mode;
  nodeCpuSec: number;
  /** The node's own view (gmnet_mediation_duration_seconds buckets): read to both -1 handed over. */
  nodeMediationMs: { p50AtMost: number | null; p99AtMost: number | null };
  generatorCpuSec: number;
  redisCpuSec: number;
  nodeCpuUsPerConnect: number;
  nodeRssMiB: number[];
}

async function measuredRun(
  mode: Mode,
  cluster: BenchCluster,
  fleet: ServerFleet,
  rate: number,
  seconds: number,
  options: CommonOptions,
): Promise<MeasuredRun> {
  const before = await cluster.cpuSeconds();
  const texts = async () => Promise.all(cluster.nodes.map((n) => n.metricsText()));
  const merge = (all: string[]) => {
    const merged = new Map<number, number>();
    for (const t of all)
      for (const [k, v] of histogramBuckets(t, "gmnet_mediation_duration_seconds"))
        merged.set(k, (merged.get(k) ?? 0) + v);
    return merged;
  };
  const bucketsBefore = merge(await texts());
  const generatorBefore = process.cpuUsage();
  const result = await fleet.run({
    connectsPerSec: rate,
    seconds,
    crossNode: mode === "redis3",
    lobbyPerSec: options.lobbyPerSec,
  });
  const after = await cluster.cpuSeconds();
  const bucketsAfter = merge(await texts());
  const nodeMediationMs = {
    p50AtMost: bucketPercentileMs(bucketsBefore, bucketsAfter, 50),
    p99AtMost: bucketPercentileMs(bucketsBefore, bucketsAfter, 99),
  };
  const nodeCpuSec = Math.round((after.nodes - before.nodes) * 100) / 100;
  return {
    mode,
    ...result,
    nodeCpuSec,
    nodeMediationMs,
    generatorCpuSec: (() => {
      const used = process.cpuUsage(generatorBefore);
      return Math.round((used.user + used.system) / 1e4) / 100;
    })(),
    redisCpuSec: Math.round((after.redis - before.redis) * 100) / 100,
    nodeCpuUsPerConnect: Math.round((nodeCpuSec * 1e6) / Math.max(1, result.stats.completed)),
    nodeRssMiB: cluster.nodes.map((n) => Math.round(n.rssBytes() / 1048576)),
  };
}

function describe(run: MeasuredRun): string {
  const s = run.stats;
  return (
    `${run.mode}: ${run.achievedPerSec}/s client ${formatLatency(run.clientLatency)} ` +
    `server p50=${run.serverLatency.p50Ms} p99=${run.serverLatency.p99Ms} ` +
    `notfound=${s.notFound} timeouts=${s.clientTimeouts + s.serverTimeouts} wrong=${wrongReplies(s)} ` +
    `skipped=${s.skipped} lobby=${s.lobbyOk}/${s.lobbyRequests} ` +
    `node-side p50<=${run.nodeMediationMs.p50AtMost} p99<=${run.nodeMediationMs.p99AtMost}ms ` +
    `nodeCPU=${run.nodeCpuUsPerConnect}us/connect genCPU=${run.generatorCpuSec}s genLoopP99=${run.generatorLoopDelayP99Ms}ms`
  );
}

function healthy(run: MeasuredRun): boolean {
  const s = run.stats;
  return wrongReplies(s) === 0;
}

export async function runCompare(options: CommonOptions) {
  const runs: MeasuredRun[] = [];
  for (const mode of options.modes as Mode[]) {
    runs.push(
      await withFleet(mode, options, async (cluster, fleet) => {
        log(`${mode}: warm-up 2 s`);
        await fleet.run({
          connectsPerSec: Math.min(options.rate, 2000),
          seconds: 2,
          crossNode: mode === "redis3",
        });
        log(`${mode}: ${options.rate}/s for ${options.seconds} s`);
        const run = await measuredRun(mode, cluster, fleet, options.rate, options.seconds, options);
        log(describe(run));
        return run;
      }),
    );
  }
  const memory = runs.find((r) => r.mode === "memory");
  const redis3 = runs.find((r) => r.mode === "redis3");
  const cpuRatio =
    memory && redis3
      ? Math.round((memory.nodeCpuUsPerConnect / Math.max(1, redis3.nodeCpuUsPerConnect)) * 100) /
        100
      : null;
  const summary =
    `compare ${options.rate}/s ${options.seconds}s gap=${options.replyGapMs}ms | ` +
    runs.map((r) => describe(r)).join(" | ") +
    (cpuRatio !== null ? ` | redis3 node-CPU efficiency vs memory=${cpuRatio}x` : "");
  return { summary, result: { runs, cpuRatio }, ok: runs.every(healthy) };
}

export async function runRamp(options: CommonOptions) {
  const steps =
    options.steps.length > 0
      ? options.steps
      : [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000];
  const perMode: Array<{ mode: Mode; maxSustainedPerSec: number; runs: MeasuredRun[] }> = [];
  for (const mode of options.modes as Mode[]) {
    perMode.push(
      await withFleet(mode, options, async (cluster, fleet) => {
        await fleet.run({ connectsPerSec: 1000, seconds: 2, crossNode: mode === "redis3" });
        const runs: MeasuredRun[] = [];
        let maxSustainedPerSec = 0;
        for (const rate of steps) {
          const run = await measuredRun(mode, cluster, fleet, rate, options.seconds, options);
          runs.push(run);
          const s = run.stats;
          const failures = s.notFound + s.clientTimeouts + s.serverTimeouts + s.tcpErrors;
          const p99 = Math.max(run.clientLatency.p99Ms, run.serverLatency.p99Ms);
          const sustained =
            p99 <= options.p99LimitMs &&
            failures <= s.started * 0.001 &&
            s.skipped <= s.started * 0.01 &&
            run.achievedPerSec >= rate * 0.97 &&
            wrongReplies(s) === 0;
          log(`${mode} step ${rate}/s: ${sustained ? "ok" : "over"} ${describe(run)}`);
          if (!sustained) break;
          maxSustainedPerSec = rate;
        }
        return { mode, maxSustainedPerSec, runs };
      }),
    );
  }
  const memory = perMode.find((m) => m.mode === "memory")?.maxSustainedPerSec ?? 0;
  const redis3 = perMode.find((m) => m.mode === "redis3")?.maxSustainedPerSec ?? 0;
  const ratio = memory > 0 ? Math.round((redis3 / memory) * 100) / 100 : null;
  const summary =
    `ramp p99<=${options.p99LimitMs}ms ${options.seconds}s/step | ` +
    perMode.map((m) => `${m.mode}: max ${m.maxSustainedPerSec}/s`).join(" | ") +
    (ratio !== null ? ` | redis3/memory=${ratio}x` : "");
  return {
    summary,
    result: { perMode, ratio },
    ok: perMode.every((m) => m.runs.every((r) => wrongReplies(r.stats) === 0)),
  };
}

/** Counts what reaches Redis over the network (MONITOR; Lua-internal calls excluded) per connect. */
export async function runRedisCost(options: CommonOptions) {
  const connects = Math.max(100, Math.min(options.rate, 500) * Math.min(options.seconds, 5));
  const rate = Math.min(options.rate, 500);
  const seconds = connects / rate;
  return withFleet("redis3", options, async (cluster, fleet) => {
    const redis = cluster.redis;
    if (!redis) throw new Error("rediscost needs Redis");
    const monitor = await redis.client().monitor();
    const counts = new Map<string, number>();
    const internal = new Map<string, number>();
    let counting = false;
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (!counting) return;
      const name = (args[0] ?? "").toLowerCase();
      const map = source === "lua" ? internal : counts;
      map.set(name, (map.get(name) ?? 0) + 1);
    });
    // Background (heartbeats, lease refresh) over the same time, with no connects.
    counting = true;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    counting = false;
    const idle = new Map(counts);
    counts.clear();
    internal.clear();
    counting = true;
    const run = await fleet.run({ connectsPerSec: rate, seconds, crossNode: true, lobbyPerSec: 0 });
    counting = false;
    await new Promise((resolve) => setTimeout(resolve, 200));
    monitor.disconnect();
    const completed = Math.max(1, run.stats.completed);
    const perConnect: Record<string, number> = {};
    for (const [name, n] of counts) {
      const net = n - (idle.get(name) ?? 0);
      if (Math.abs(net) / completed >= 0.005)
        perConnect[name] = Math.round((net / completed) * 100) / 100;
    }
    const perConnectInLua: Record<string, number> = {};
    for (const [name, n] of internal)
      perConnectInLua[name] = Math.round((n / completed) * 100) / 100;
    const total = Object.values(perConnect).reduce((a, b) => a + b, 0);
    const summary =
      `rediscost ${run.stats.completed} cross-node connects: ${Math.round(total * 100) / 100} network commands/connect ` +
      `${JSON.stringify(perConnect)} (inside Lua: ${JSON.stringify(perConnectInLua)}) wrong=${wrongReplies(run.stats)}`;
    return {
      summary,
      result: {
        connects: run.stats.completed,
        perConnect,
        perConnectInLua,
        idleBackground: Object.fromEntries(idle),
        run,
      },
      ok: wrongReplies(run.stats) === 0,
    };
  });
}
