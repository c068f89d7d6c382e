// soak: a steady rate across three nodes on one Redis for N minutes with
// GML-faithful game servers (a ping every interval, a new registration only
// when a ping write fails), the load generator playing the balancer (new
// flows only to nodes whose /readyz says ready). Events: a ROLLING RESTART
// (each node SIGTERMed, drained by handing its servers over at their pings,
// started again, in turn) and then Redis restarted empty. Passes with zero
// wrong replies, every server registered at the end (with its UDP port) and
// every node out within its drain deadline. Then, on the same cluster, the
// time for SIGKILLed node's servers to be listed again, per ping interval.
import { BenchCluster } from "../lib/cluster.js";
import type { LatencySummary } from "../lib/histogram.js";
import { type ConnectDone, ServerFleet, wrongReplies } from "../lib/load.js";
import { sleep } from "../lib/procs.js";
import { ClusterSampler, type SeriesValues } from "../lib/sampler.js";
import type { CommonOptions } from "../run.js";
import { measureKillRelist, type RelistResult } from "./relist.js";

const log = (text: string) => process.stderr.write(`${text}\n`);
const mib = (bytes: number) => Math.round(bytes / 1048576);

/** The nodes' own drain deadline when GMNET_DRAIN_TIMEOUT_MS is unset (options.ts). */
const drainDeadlineMs = (pingIntervalMs: number) => pingIntervalMs + 30_000;
const COUNTERS = [
  "gmnet_connect_outcomes_total",
  "gmnet_drain_handovers_total",
  "gmnet_bad_input_total",
] as const;

interface NodeRestart {
  node: string;
  sigtermAtSec: number;
  exitMs: number;
  exitCode: number | null;
  killedAfterTimeout: boolean;
  withinDeadline: boolean;
  /** From SIGTERM to the restarted node answering /readyz 200. */
  backReadyMs: number;
}

/** Client-side outcomes of connects that ended inside a window. */
interface WindowCounts {
  fromSec: number;
  toSec: number;
  ended: number;
  found: number;
  notFoundAtOnce: number;
  /** -2 after at least the client UDP wait: the master waited for something that did not come. */
  notFoundAfterWait: number;
  wrong: number;
  timeouts: number;
  tcpErrors: number;
}

function emptyWindow(fromSec: number, toSec: number): WindowCounts {
  return {
    fromSec,
    toSec,
    ended: 0,
    found: 0,
    notFoundAtOnce: 0,
    notFoundAfterWait: 0,
    wrong: 0,
    timeouts: 0,
    tcpErrors: 0,
  };
}

/** Every connect's end, by the second it ended in (outcomes only; a few numbers per second). */
class OutcomeLog {
  private readonly bySecond: WindowCounts[] = [];
  constructor(
    private readonly startedMs: number,
    private readonly udpWaitMs: number,
  ) {}

  record(done: ConnectDone): void {
    const second = Math.floor((Date.now() - this.startedMs) / 1000);
    this.bySecond[second] ??= emptyWindow(second, second + 1);
    const w = this.bySecond[second] as WindowCounts;
    w.ended++;
    if (done.outcome === "found") w.found++;
    else if (done.outcome === "not_found") {
      if (done.ms >= this.udpWaitMs - 100) w.notFoundAfterWait++;
      else w.notFoundAtOnce++;
    } else if (done.outcome === "wrong") w.wrong++;
    else if (done.outcome === "tcp_error") w.tcpErrors++;
    else w.timeouts++;
  }

  window(fromSec: number, toSec: number): WindowCounts {
    const sum = emptyWindow(fromSec, toSec);
    for (let s = Math.max(0, Math.floor(fromSec)); s < Math.ceil(toSec); s++) {
      const w = this.bySecond[s];
      if (!w) continue;
      sum.ended += w.ended;
      sum.found += w.found;
      sum.notFoundAtOnce += w.notFoundAtOnce;
      sum.notFoundAfterWait += w.notFoundAfterWait;
      sum.wrong += w.wrong;
      sum.timeouts += w.timeouts;
      sum.tcpErrors += w.tcpErrors;
    }
    return sum;
  }
}

const formatWindow = (w: WindowCounts) =>
  `${w.found}/${w.ended} found, -2 ${w.notFoundAtOnce} at once + ${w.notFoundAfterWait} after a wait, wrong ${w.wrong}, timeouts ${w.timeouts}, tcpErrors ${w.tcpErrors}`;

export async function runSoak(options: CommonOptions) {
  const seconds = Math.max(120, Math.round(options.minutes * 60));
  const rate = Math.min(options.rate, 500);
  const pingMs = options.pingIntervalMs ?? 5_000;
  const clientUdpWaitMs = 2_000;
  const cluster = await BenchCluster.start({
    mode: "redis3",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: null,
    fdLimit: 65536,
    nodeOverrides: {
      leaseMs: 6_000,
      clientUdpWaitMs,
      drainTimeoutMs: null, // the node's default: ping interval + 30 s
      serverPingIntervalMs: pingMs,
    },
  });
  const balancer = cluster.balancer(200);
  await balancer.start();
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    balancer,
    servers: options.servers,
    tag: "bench-soak",
    pingIntervalMs: pingMs,
    reregister: "on-ping-failure",
    startSpreadMs: pingMs, // pings (and so hand-overs) spread over the interval
  });
  // Every second: a draining node's counters must be read before it exits.
  const sampler = new ClusterSampler(cluster, COUNTERS, 1_000);
  const events: Array<{ atSec: number; event: string }> = [];
  const restarts: NodeRestart[] = [];
  let relist: RelistResult[] = [];
  const startedMs = Date.now();
  const atSec = () => Math.round((Date.now() - startedMs) / 100) / 10;
  try {
    await fleet.start();
    await fleet.prepareClients(2048);
    await cluster.confirmRegistered(fleet);
    log(
      `soak: ${rate}/s for ${seconds}s across 3 nodes, ${options.servers} GML-faithful servers pinging every ${pingMs} ms`,
    );
    await sampler.start();
    const runStartedMs = Date.now();
    const outcomes = new OutcomeLog(runStartedMs, clientUdpWaitMs);
    const runSec = () => (Date.now() - runStartedMs) / 1000;
    // Set by the event script (an object: assignments in a closure are not narrowed away).
    const marks: {
      roll: { fromSec: number; toSec: number; before: SeriesValues; after: SeriesValues } | null;
      redis: { atSec: number; before: SeriesValues; after: SeriesValues } | null;
    } = { roll: null, redis: null };

    // The event script runs beside the load: the rolling restart, then Redis.
    const script = (async () => {
      await sleep(Math.max(30, seconds / 5) * 1000);
      const fromSec = runSec();
      const before = sampler.snapshot();
      for (const [index, node] of cluster.nodes.entries()) {
        const name = String.fromCharCode(97 + index);
        const sigtermAtSec = runSec();
        events.push({ atSec: sigtermAtSec, event: `SIGTERM node ${name} (drain)` });
        log(`${Math.round(sigtermAtSec)}s: SIGTERM node ${name}`);
        const t0 = Date.now();
        const stopped = await node.stop("SIGTERM", drainDeadlineMs(pingMs) + 30_000);
        log(
          `  node ${name} exited after ${stopped.exitMs} ms (code ${stopped.code}); starting it again`,
        );
        await node.start();
        const backReadyMs = Date.now() - t0;
        events.push({ atSec: runSec(), event: `node ${name} ready again` });
        restarts.push({
          node: name,
          sigtermAtSec: Math.round(sigtermAtSec * 10) / 10,
          exitMs: stopped.exitMs,
          exitCode: stopped.code,
          killedAfterTimeout: stopped.killedAfterTimeout,
          withinDeadline: !stopped.killedAfterTimeout && stopped.exitMs <= drainDeadlineMs(pingMs),
          backReadyMs,
        });
        await sleep(2 * pingMs); // the balancer sees it ready; pings settle on the new layout
      }
      // Connects still in flight when the last node came back end within the connect timeout.
      await sleep(15_000);
      marks.roll = { fromSec, toSec: runSec(), before, after: sampler.snapshot() };
      // Redis at 2/3 of the run, but never inside the rolling restart's window.
      await sleep(Math.max(5, (2 * seconds) / 3 - runSec()) * 1000);
      const redisAtSec = runSec();
      const redisBefore = sampler.snapshot();
      events.push({ atSec: redisAtSec, event: "restart Redis empty (SIGKILL, start again)" });
      log(`${Math.round(redisAtSec)}s: Redis SIGKILLed and started empty`);
      await cluster.redis?.restart();
      await sleep(20_000);
      marks.redis = { atSec: redisAtSec, before: redisBefore, after: sampler.snapshot() };
    })();

    const run = await fleet.run({
      connectsPerSec: rate,
      seconds,
      crossNode: true,
      lobbyPerSec: 5,
      // A connect may wait for a handed-over server (lead + 5 s) and for its UDP (2 s).
      connectTimeoutMs: 15_000,
      onConnectDone: (done) => outcomes.record(done),
      onSecond: (second, stats) => {
        if (second % 10 === 0) {
          const rss = cluster.nodes.map((n) => (n.running ? mib(n.rssBytes()) : 0));
          log(
            `${second}s started=${stats.started} found=${stats.clientFound} wrong=${wrongReplies(stats)} -2=${stats.notFound} timeouts=${stats.clientTimeouts + stats.serverTimeouts} tcpErr=${stats.tcpErrors} noNode=${stats.noReadyNode} closedByMaster=${stats.serverDisconnects} pingFailures=${stats.pingFailures} reregs=${stats.reregistrations} RSS=${rss.join("/")}`,
          );
        }
      },
    });
    await script;
    log("soak load done; checking every server is registered");
    let allRegistered = false;
    try {
      await cluster.confirmRegistered(fleet, 3 * pingMs + 30_000);
      allRegistered = true;
    } catch (error) {
      log((error as Error).message);
    }
    const liveServers = fleet.connectedServers;
    await sleep(1_000);
    await sampler.stop();
    const endRss = cluster.nodes.map((n) => mib(n.rssBytes()));
    const redisKeys = Number(await cluster.redis?.command("DBSIZE"));
    const s = run.stats;
    const rssAt20 = sampler.samples.find((r) => r.atSec >= 20)?.nodes.map((n) => n.rssMiB) ?? [];
    const rolling = marks.roll;
    const redisEvent = marks.redis;
    const rollWindow = rolling ? outcomes.window(rolling.fromSec, rolling.toSec) : null;
    const rollOutcomes = rolling
      ? sampler.byLabel("gmnet_connect_outcomes_total", "outcome", rolling.before, rolling.after)
      : {};
    const rollHandovers = rolling
      ? sampler.byLabel("gmnet_drain_handovers_total", "result", rolling.before, rolling.after)
      : {};
    const redisWindow = redisEvent
      ? outcomes.window(redisEvent.atSec, redisEvent.atSec + 20)
      : null;
    const redisOutcomes = redisEvent
      ? sampler.byLabel(
          "gmnet_connect_outcomes_total",
          "outcome",
          redisEvent.before,
          redisEvent.after,
        )
      : {};
    const allOutcomes = sampler.byLabel("gmnet_connect_outcomes_total", "outcome");
    const relistGap: LatencySummary = run.serverRelistGap;

    // Node loss: SIGKILL, per ping interval (a fresh fleet each, the soak's fleet gone).
    fleet.close();
    relist = await measureKillRelist(
      cluster,
      balancer,
      options.relistIntervals,
      options.relistServers,
    );

    const everyExitInTime = restarts.length === 3 && restarts.every((r) => r.withinDeadline);
    const ok =
      wrongReplies(s) === 0 &&
      allRegistered &&
      liveServers === options.servers &&
      everyExitInTime &&
      rollWindow !== null;
    const nonZero = (counts: Record<string, number>) =>
      Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k}=${n}`)
        .join(" ");
    const summary =
      `soak ${seconds}s at ${rate}/s, 3 nodes, ${options.servers} GML-faithful servers (ping ${pingMs} ms): ` +
      `${s.clientFound}/${s.started} found, wrong=${wrongReplies(s)}, late=${s.lateServerReplies}, -2=${s.notFound}, timeouts=${s.clientTimeouts + s.serverTimeouts}, tcpErrors=${s.tcpErrors}; ` +
      `ROLLING RESTART (${rollWindow ? `${Math.round(rollWindow.fromSec)}-${Math.round(rollWindow.toSec)}s` : "not run"}): ${rollWindow ? formatWindow(rollWindow) : "-"}; node-side ${nonZero(rollOutcomes)}; hand-overs ${nonZero(rollHandovers)}; ` +
      `exit after SIGTERM ${restarts.map((r) => `${r.node} ${r.exitMs} ms${r.killedAfterTimeout ? " (KILLED)" : ""}`).join(", ")} (deadline ${drainDeadlineMs(pingMs)} ms); ` +
      `server relist gap p50/max ${relistGap.p50Ms}/${relistGap.maxMs} ms; ` +
      `REDIS RESTART: ${redisWindow ? formatWindow(redisWindow) : "-"}, node-side ${nonZero(redisOutcomes)}; ` +
      `closed by master=${s.serverDisconnects}, ping failures=${s.pingFailures}, re-registrations=${s.reregistrations}, register failures=${s.registerFailures}; ` +
      `at end ${liveServers}/${options.servers} connected, all registered=${allRegistered}; node RSS MiB at 20s ${rssAt20.join("/")} → end ${endRss.join("/")}, Redis keys ${redisKeys}, client p99=${run.clientLatency.p99Ms}ms; ` +
      `SIGKILL relist ${relist.map((r) => `ping ${r.pingIntervalMs / 1000}s: ${r.relisted}/${r.servers} in p50 ${r.relistMs.p50} max ${r.relistMs.max} ms`).join(", ")}`;
    return {
      summary,
      result: {
        pingIntervalMs: pingMs,
        run,
        events,
        restarts,
        rollWindow,
        rollOutcomes,
        rollHandovers,
        redisWindow,
        redisOutcomes,
        allOutcomes,
        balancerTransitions: balancer.transitions,
        samples: sampler.samples,
        endRss,
        redisKeys,
        allRegistered,
        liveServers,
        relist,
        atSec: atSec(),
      },
      ok,
    };
  } finally {
    balancer.close();
    fleet.close();
    await sampler.stop();
    await cluster.stop();
  }
}
