// memory: RSS and V8 heap of one node per kept server socket, and Redis
// used_memory per registered server, at growing fleet sizes.
import { BenchCluster } from "../lib/cluster.js";
import { ServerFleet } from "../lib/load.js";
import { sleep, sumMetric, until } from "../lib/procs.js";
import type { CommonOptions } from "../run.js";
import { execFileSync } from "node:child_process";

const log = (text: string) => process.stderr.write(`${text}\n`);

function hardFdLimit(): number {
  const text = execFileSync("bash", ["-c", "ulimit -Hn"]).toString().trim();
  return text === "unlimited" ? 1_048_576 : Number(text);
}

interface Point {
  servers: number;
  nodeRssMiB: number;
  nodeHeapUsedMiB: number;
  rssPerServerBytes: number;
  heapPerServerBytes: number;
  redisUsedMemoryMiB: number;
  redisPerServerBytes: number;
}

export async function runMemoryScenario(options: CommonOptions) {
  // Each kept server socket is one fd in the node and one in this generator.
  const fdCap = hardFdLimit() - 1500;
  const counts = options.counts
    .map((c) => Math.min(c, fdCap))
    .filter((c, i, a) => a.indexOf(c) === i);
  const capped = options.counts.some((c) => c > fdCap);
  if (capped) log(`fd hard limit ${fdCap + 1500}: counts capped to ${counts.join(",")}`);
  const cluster = await BenchCluster.start({
    mode: "redis1",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: null,
    fdLimit: 1_048_576,
  });
  const node = cluster.nodes[0];
  const redis = cluster.redis;
  if (!node || !redis) throw new Error("no node");
  const fleets: ServerFleet[] = [];
  const heapUsed = async () => sumMetric(await node.metricsText(), "nodejs_heap_size_used_bytes");
  const redisUsed = async () => Number((await redis.info("memory")).used_memory ?? 0);
  try {
    await sleep(3_000);
    const base = { rss: node.rssBytes(), heap: await heapUsed(), redis: await redisUsed() };
    log(
      `baseline rss=${Math.round(base.rss / 1048576)}MiB heap=${Math.round(base.heap / 1048576)}MiB redis=${Math.round(base.redis / 1048576)}MiB`,
    );
    const points: Point[] = [];
    let registered = 0;
    for (const count of counts) {
      const fleet = new ServerFleet({
        nodes: cluster.targets,
        servers: count - registered,
        firstIndex: registered,
        tag: "bench-memory",
        keepUdp: false,
        pingIntervalMs: 0, // kept sockets only, as before (no keepalive traffic in the reading)
        registerConcurrency: 256,
      });
      fleets.push(fleet);
      const t0 = Date.now();
      await fleet.start();
      registered = count;
      await until(
        async () =>
          sumMetric(await node.metricsText(), "gmnet_registered_servers", 'scope="node"') >= count,
        120_000,
        `${count} registrations on the node`,
        500,
      );
      log(`${count} servers registered in ${Math.round((Date.now() - t0) / 100) / 10}s; settling`);
      await sleep(6_000); // one lease refresh cycle, GC settles
      const rss = node.rssBytes();
      const heap = await heapUsed();
      const used = await redisUsed();
      const point: Point = {
        servers: count,
        nodeRssMiB: Math.round(rss / 1048576),
        nodeHeapUsedMiB: Math.round(heap / 1048576),
        rssPerServerBytes: Math.round((rss - base.rss) / count),
        heapPerServerBytes: Math.round((heap - base.heap) / count),
        redisUsedMemoryMiB: Math.round(used / 1048576),
        redisPerServerBytes: Math.round((used - base.redis) / count),
      };
      log(JSON.stringify(point));
      points.push(point);
    }
    const last = points[points.length - 1];
    const summary =
      `memory ${points.map((p) => `${p.servers} servers: node RSS ${p.rssPerServerBytes} B/server (heap ${p.heapPerServerBytes} B), Redis ${p.redisPerServerBytes} B/server`).join(" | ")}` +
      (capped ? ` (counts capped by RLIMIT_NOFILE hard limit ${fdCap + 1500})` : "");
    return {
      summary,
      result: { baseline: base, points, fdCapped: capped },
      ok: last !== undefined,
    };
  } finally {
    for (const fleet of fleets) fleet.close();
    await cluster.stop();
  }
}
