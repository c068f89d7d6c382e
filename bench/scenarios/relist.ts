// Node loss measured with GML-faithful game servers: SIGKILL one node of a
// Redis cluster and time how long each of its servers takes to be listed
// again on a live node, per ping interval. A GML game notices the loss only
// when a `ping` write fails, so the interval is what bounds the figure.
import { performance } from "node:perf_hooks";
import type { ReadinessBalancer } from "../lib/balancer.js";
import type { BenchCluster } from "../lib/cluster.js";
import { ServerFleet, type SimServer } from "../lib/load.js";
import { sleep, until } from "../lib/procs.js";

const log = (text: string) => process.stderr.write(`${text}\n`);

export interface RelistResult {
  pingIntervalMs: number;
  /** Servers whose registration the killed node held. */
  servers: number;
  /** Of those, owned by a live node again within the wait (admin API). */
  relisted: number;
  /** SIGKILL → owned by a live node, as the admin API showed it (polled every 250 ms). */
  relistMs: { min: number; p50: number; p90: number; max: number };
  /** Which of its pings after the kill registered it again (counted by the game: its ticks). */
  byPing: { first: number; second: number; later: number };
  /** How the killed node's sockets closed, as the games' sockets saw it. */
  closedByFin: number;
  closedByRst: number;
  notNoticed: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function owners(cluster: BenchCluster, tag: string): Promise<Map<string, string>> {
  const node = cluster.nodes.find((n) => n.running);
  const byIp = new Map<string, string>();
  if (!node) return byIp;
  for (let offset = 0; ; offset += 1000) {
    const page = await node.adminServers(tag, offset, 1000);
    for (const s of page.servers) byIp.set(s.ip, s.ownerNodeId);
    if (page.servers.length < 1000) return byIp;
  }
}

export async function measureKillRelist(
  cluster: BenchCluster,
  balancer: ReadinessBalancer,
  intervalsMs: readonly number[],
  serverCount: number,
): Promise<RelistResult[]> {
  const results: RelistResult[] = [];
  const victim = cluster.nodes[0];
  if (!victim) return results;
  const victimId = victim.options.nodeId;
  for (const [round, pingIntervalMs] of intervalsMs.entries()) {
    const tag = `bench-relist-${pingIntervalMs}`;
    const fleet = new ServerFleet({
      nodes: cluster.targets,
      balancer,
      servers: serverCount,
      tag,
      firstIndex: 100_000 + round * serverCount,
      pingIntervalMs,
      reregister: "on-ping-failure",
      startSpreadMs: pingIntervalMs, // each server's ping phase differs, as real games' do
    });
    try {
      await fleet.start();
      await cluster.confirmRegistered(fleet);
      const before = await owners(cluster, tag);
      const onVictim = fleet.servers.filter((s) => before.get(s.ip) === victimId);
      log(
        `relist: ping ${pingIntervalMs} ms, ${onVictim.length}/${serverCount} servers on ${victimId}; SIGKILL`,
      );
      const ticksAtKill = new Map(onVictim.map((s) => [s, s.pingTicks]));
      const killedAt = performance.now();
      await victim.stop("SIGKILL");
      const relistedAt = new Map<SimServer, number>();
      const byPing = { first: 0, second: 0, later: 0 };
      const waitMs = 2 * pingIntervalMs + 15_000;
      await until(
        async () => {
          const now = await owners(cluster, tag).catch(() => new Map<string, string>());
          const at = performance.now();
          for (const server of onVictim) {
            const owner = now.get(server.ip);
            if (!relistedAt.has(server) && owner !== undefined && owner !== victimId) {
              relistedAt.set(server, at - killedAt);
              const ticks = server.pingTicks - (ticksAtKill.get(server) ?? 0);
              if (ticks <= 1) byPing.first++;
              else if (ticks === 2) byPing.second++;
              else byPing.later++;
            }
          }
          return relistedAt.size === onVictim.length;
        },
        waitMs,
        "the killed node's servers listed again",
        250,
      ).catch(() => undefined);
      const times = [...relistedAt.values()].sort((a, b) => a - b).map(Math.round);
      const result: RelistResult = {
        pingIntervalMs,
        servers: onVictim.length,
        relisted: times.length,
        relistMs: {
          min: times[0] ?? 0,
          p50: quantile(times, 0.5),
          p90: quantile(times, 0.9),
          max: times[times.length - 1] ?? 0,
        },
        byPing,
        closedByFin: onVictim.filter((s) => s.lastClose === "fin").length,
        closedByRst: onVictim.filter((s) => s.lastClose === "rst").length,
        notNoticed: onVictim.filter((s) => s.lastClose === null).length,
      };
      log(
        `  relisted ${result.relisted}/${result.servers}: min ${result.relistMs.min} p50 ${result.relistMs.p50} p90 ${result.relistMs.p90} max ${result.relistMs.max} ms; first ping ${byPing.first}, second ${byPing.second}, later ${byPing.later}; sockets saw FIN ${result.closedByFin}, RST ${result.closedByRst}`,
      );
      results.push(result);
    } finally {
      fleet.close();
      if (!victim.running) await victim.start();
      await until(() => balancer.isReady(0), 10_000, "the restarted node seen ready", 100);
      await sleep(1_000);
    }
  }
  return results;
}
