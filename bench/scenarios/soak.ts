// soak: a steady rate across three nodes on one Redis for N minutes, with one
// node restarted (SIGTERM drain, then started again) at 1/3 and Redis
// restarted empty at 2/3. Passes with zero wrong replies, every live server
// registered at the end (with its UDP port), and no growth in node memory.
import { BenchCluster } from "../lib/cluster.js";
import { ServerFleet, wrongReplies } from "../lib/load.js";
import { sleep } from "../lib/procs.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);
const mib = (bytes: number) => Math.round(bytes / 1048576);

export async function runSoak(options: CommonOptions) {
  const seconds = Math.max(30, Math.round(options.minutes * 60));
  const rate = Math.min(options.rate, 500);
  const cluster = await BenchCluster.start({
    mode: "redis3",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: null,
    fdLimit: 65536,
    nodeOverrides: { leaseMs: 6_000 },
  });
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    servers: options.servers,
    tag: "bench-soak",
    pingIntervalMs: 5_000, // GML-faithful: a server registers again when a ping write fails
  });
  const events: Array<{ atSec: number; event: string }> = [];
  const rssSamples: Array<{ atSec: number; rssMiB: number[] }> = [];
  try {
    await fleet.start();
    await fleet.prepareClients(2048);
    await cluster.confirmRegistered(fleet);
    log(`soak: ${rate}/s for ${seconds}s across 3 nodes, ${options.servers} servers`);
    let pending: Promise<void> = Promise.resolve();
    const run = await fleet.run({
      connectsPerSec: rate,
      seconds,
      crossNode: true,
      lobbyPerSec: 5,
      onSecond: (second, stats) => {
        if (second % 10 === 0) {
          rssSamples.push({ atSec: second, rssMiB: cluster.nodes.map((n) => mib(n.rssBytes())) });
          log(
            `${second}s started=${stats.started} found=${stats.clientFound} wrong=${wrongReplies(stats)} notfound=${stats.notFound} timeouts=${stats.clientTimeouts + stats.serverTimeouts} tcpErr=${stats.tcpErrors} reconnects=${stats.serverDisconnects}`,
          );
        }
        if (second === Math.floor(seconds / 3)) {
          events.push({ atSec: second, event: "restart node b (SIGTERM drain, start again)" });
          pending = pending.then(() =>
            (cluster.nodes[1] as (typeof cluster.nodes)[number]).restart(),
          );
        }
        if (second === Math.floor((2 * seconds) / 3)) {
          events.push({ atSec: second, event: "restart Redis empty (SIGKILL, start again)" });
          pending = pending.then(() => cluster.redis?.restart());
        }
      },
    });
    await pending;
    log("soak load done; checking every server is registered");
    const liveServers = fleet.connectedServers;
    let allRegistered = false;
    try {
      await cluster.confirmRegistered(fleet, 30_000);
      allRegistered = true;
    } catch (error) {
      log((error as Error).message);
    }
    await sleep(1_000);
    const endRss = cluster.nodes.map((n) => mib(n.rssBytes()));
    const redisKeys = Number(await cluster.redis?.command("DBSIZE"));
    const s = run.stats;
    const early = rssSamples.find((r) => r.atSec >= 20)?.rssMiB ?? [];
    const ok = wrongReplies(s) === 0 && allRegistered && liveServers === options.servers;
    const summary =
      `soak ${seconds}s at ${rate}/s, 3 nodes, node b restarted at ${Math.floor(seconds / 3)}s, Redis restarted at ${Math.floor((2 * seconds) / 3)}s: ` +
      `${s.clientFound}/${s.started} found, wrong=${wrongReplies(s)}, late=${s.lateServerReplies}, -2=${s.notFound}, timeouts=${s.clientTimeouts + s.serverTimeouts}, tcpErrors=${s.tcpErrors}, ` +
      `server reconnects=${s.serverDisconnects}, at end ${liveServers}/${options.servers} servers connected, all registered=${allRegistered}, ` +
      `node RSS MiB at 20s ${early.join("/")} → end ${endRss.join("/")}, Redis keys ${redisKeys}, client p99=${run.clientLatency.p99Ms}ms`;
    return {
      summary,
      result: { run, events, rssSamples, endRss, redisKeys, allRegistered, liveServers },
      ok,
    };
  } finally {
    fleet.close();
    await cluster.stop();
  }
}
