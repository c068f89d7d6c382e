// slowloris: many TCP sockets that never finish a command (idle, or one byte
// a second) must stay cheap, be closed at the idle timeout, and not stop real
// games from being served meanwhile.
import { connect as tcpConnect, type Socket } from "node:net";
import { BenchCluster } from "../lib/cluster.js";
import { ipFor } from "../lib/ips.js";
import { ServerFleet, wrongReplies } from "../lib/load.js";
import { sleep, sumMetric } from "../lib/procs.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);
const IDLE_TIMEOUT_MS = 10_000;

export async function runSlowloris(options: CommonOptions) {
  const cluster = await BenchCluster.start({
    mode: "memory",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: null,
    fdLimit: 1_048_576,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
  });
  const node = cluster.nodes[0];
  if (!node) throw new Error("no node");
  const target = cluster.targets[0] as { host: string; port: number };
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    servers: 50,
    tag: "bench-slowloris",
    pingIntervalMs: 2_000,
  });
  const sockets: Socket[] = [];
  const openedAt = new Map<Socket, number>();
  const closedAfterMs: number[] = [];
  let trickle: NodeJS.Timeout | null = null;
  try {
    await fleet.start();
    await fleet.prepareClients(512);
    await cluster.confirmRegistered(fleet);
    await sleep(2_000);
    const baselineRss = node.rssBytes();
    const count = options.sockets;
    log(`opening ${count} slow sockets (half idle, half one byte a second)`);
    const t0 = Date.now();
    for (let i = 0; i < count; i += 500) {
      await Promise.all(
        Array.from(
          { length: Math.min(500, count - i) },
          (_, k) =>
            new Promise<void>((resolve) => {
              const socket = tcpConnect({ ...target, localAddress: ipFor("idle", i + k) }, () => {
                openedAt.set(socket, Date.now());
                resolve();
              });
              socket.on("error", () => resolve());
              socket.on("close", () => {
                const at = openedAt.get(socket);
                if (at !== undefined) closedAfterMs.push(Date.now() - at);
              });
              sockets.push(socket);
            }),
        ),
      );
    }
    const openSec = (Date.now() - t0) / 1000;
    let tick = 0;
    trickle = setInterval(() => {
      tick++;
      for (let i = 1; i < sockets.length; i += 2) {
        const s = sockets[i];
        if (s && !s.destroyed) s.write(Buffer.from([0x72 + (tick % 3)])); // never a line end
      }
    }, 1_000);
    await sleep(2_000);
    const heldRss = node.rssBytes();
    const heldTcp = sumMetric(await node.metricsText(), "gmnet_tcp_connections");
    log(`held: node RSS ${Math.round(heldRss / 1048576)} MiB, node TCP gauge ${heldTcp}`);
    // Real games during the attack, until the idle timeout has closed them.
    const during = await fleet.run({
      connectsPerSec: 200,
      seconds: IDLE_TIMEOUT_MS / 1000 - 3,
      crossNode: false,
      lobbyPerSec: 5,
    });
    const deadline = Date.now() + 15_000;
    while (closedAfterMs.length < openedAt.size && Date.now() < deadline) await sleep(200);
    clearInterval(trickle);
    trickle = null;
    const opened = openedAt.size;
    const closed = closedAfterMs.length;
    const sorted = [...closedAfterMs].sort((a, b) => a - b);
    const closeMinMs = sorted[0] ?? 0;
    const closeMaxMs = sorted[sorted.length - 1] ?? 0;
    await sleep(3_000);
    const afterRss = node.rssBytes();
    const alive = node.running && (await node.ready());
    const perSocketBytes = Math.round((heldRss - baselineRss) / Math.max(1, opened));
    const ok =
      alive &&
      closed === opened &&
      wrongReplies(during.stats) === 0 &&
      during.stats.completed === during.stats.started;
    const summary =
      `slowloris ${opened} slow sockets (opened in ${openSec}s): node RSS +${perSocketBytes} B/socket (${Math.round(baselineRss / 1048576)}→${Math.round(heldRss / 1048576)} MiB, ${Math.round(afterRss / 1048576)} MiB after), ` +
      `${closed}/${opened} closed by the node after ${closeMinMs}-${closeMaxMs} ms (idle timeout ${IDLE_TIMEOUT_MS}), ` +
      `real games meanwhile ${during.stats.completed}/${during.stats.started} ok p99=${during.clientLatency.p99Ms}ms wrong=${wrongReplies(during.stats)} lobby ${during.stats.lobbyOk}/${during.stats.lobbyRequests}, node ${alive ? "alive" : "DOWN"}`;
    return {
      summary,
      result: {
        opened,
        closed,
        closeMinMs,
        closeMaxMs,
        baselineRss,
        heldRss,
        afterRss,
        perSocketBytes,
        heldTcp,
        during,
      },
      ok,
    };
  } finally {
    if (trickle) clearInterval(trickle);
    for (const s of sockets) s.destroy();
    fleet.close();
    await cluster.stop();
  }
}
