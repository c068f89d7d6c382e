// abuse: every attack of issue 9 at once, for a bounded time, while real
// GML-faithful games register, connect and list the lobby beside them; on one
// in-memory node and on three nodes + Redis (cross-node). The attackers run in
// their own process (bench/abuse/). Figures: the real games' outcomes (which
// -2s, and whom they hit), node RSS and event-loop delay over time, Redis keys
// and CPU, what the attackers got back, and the nodes' bad-input counters.
// Limits are the production defaults, reply pacing included (100 ms).
import { readFileSync } from "node:fs";
import { AttackerProcess } from "../abuse/attacker.js";
import { type AbuseConfig, type AbuseReport, isForgedPort } from "../abuse/attacks.js";
import { BenchCluster, type Mode } from "../lib/cluster.js";
import { roleOf } from "../lib/ips.js";
import { type ConnectDone, type RunResult, ServerFleet, wrongReplies } from "../lib/load.js";
import { ClusterSampler, type Sample, type SeriesValues } from "../lib/sampler.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);

const COUNTERS = [
  "gmnet_bad_input_total",
  "gmnet_connect_outcomes_total",
  "gmnet_lobby_requests_total",
  "gmnet_udp_datagrams_total",
] as const;
const TAG = "bench-abuse";
const CLIENTS = 2048;
/** prom-client's event-loop monitor samples every 10 ms and its readings include that interval. */
const LAG_RESOLUTION_MS = 10;
const QUIET_SECONDS = 5;
const RECOVERY_SECONDS = 10;

/**
 * UDP datagrams the kernel dropped because a socket's receive buffer was full
 * (/proc/net/snmp Udp RcvbufErrors): machine-wide, but on this loopback bench
 * the node's game socket is where a flood piles up.
 */
function udpReceiveBufferDrops(): number | null {
  try {
    const lines = readFileSync("/proc/net/snmp", "utf8")
      .split("\n")
      .filter((line) => line.startsWith("Udp:"));
    const names = (lines[0] ?? "").split(/\s+/);
    const values = (lines[1] ?? "").split(/\s+/);
    const at = names.indexOf("RcvbufErrors");
    return at > 0 ? Number(values[at]) : null;
  } catch {
    return null;
  }
}

/** Real connects by how they ended: to the flooded server or to the others. */
interface RealOutcomes {
  found: number;
  notFoundAtOnce: number;
  /** -2 after the master's UDP wait: the client's own UDP connect never reached the store. */
  notFoundAfterUdpWait: number;
  wrong: number;
  timeouts: number;
  tcpErrors: number;
}

const emptyOutcomes = (): RealOutcomes => ({
  found: 0,
  notFoundAtOnce: 0,
  notFoundAfterUdpWait: 0,
  wrong: 0,
  timeouts: 0,
  tcpErrors: 0,
});

function tally(into: RealOutcomes, done: ConnectDone, udpWaitMs: number): void {
  if (done.outcome === "found") into.found++;
  else if (done.outcome === "not_found") {
    if (done.ms >= udpWaitMs - 100) into.notFoundAfterUdpWait++;
    else into.notFoundAtOnce++;
  } else if (done.outcome === "wrong") into.wrong++;
  else if (done.outcome === "tcp_error") into.tcpErrors++;
  else into.timeouts++;
}

interface Series {
  atStart: number | null;
  at10s: number | null;
  at20s: number | null;
  atEnd: number | null;
  peak: number | null;
  /** After the recovery period (attack over). */
  after: number | null;
}

function series(
  samples: readonly Sample[],
  read: (s: Sample) => number | null,
  fromSec: number,
  toSec: number,
): Series {
  const within = samples.filter((s) => s.atSec >= fromSec && s.atSec <= toSec + 0.5);
  const at = (sec: number) => {
    const found = within.find((s) => s.atSec >= sec && read(s) !== null);
    return found ? read(found) : null;
  };
  const values = within.map(read).filter((v): v is number => v !== null);
  const last = samples.filter((s) => read(s) !== null).at(-1);
  const lastWithin = within.filter((s) => read(s) !== null).at(-1);
  return {
    atStart: at(fromSec),
    at10s: at(fromSec + 10),
    at20s: at(fromSec + 20),
    atEnd: lastWithin ? read(lastWithin) : null,
    peak: values.length > 0 ? Math.max(...values) : null,
    after: last ? read(last) : null,
  };
}

interface LagSummary {
  /** Median and worst of the per-second p99 readings during the attack (raw, as exported). */
  p99MedianMs: number | null;
  p99WorstMs: number | null;
  maxMs: number | null;
}

function lagSummary(
  samples: readonly Sample[],
  node: number,
  fromSec: number,
  toSec: number,
): LagSummary {
  const within = samples.filter((s) => s.atSec > fromSec + 1 && s.atSec <= toSec + 0.5);
  const p99s = within
    .map((s) => s.nodes[node]?.lagP99Ms ?? null)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const maxes = within
    .map((s) => s.nodes[node]?.lagMaxMs ?? null)
    .filter((v): v is number => v !== null);
  return {
    p99MedianMs: p99s.length > 0 ? (p99s[Math.floor(p99s.length / 2)] as number) : null,
    p99WorstMs: p99s.length > 0 ? (p99s[p99s.length - 1] as number) : null,
    maxMs: maxes.length > 0 ? Math.max(...maxes) : null,
  };
}

function delta(
  sampler: ClusterSampler,
  name: string,
  label: string,
  from: SeriesValues,
  to: SeriesValues,
) {
  const all = sampler.byLabel(name, label, from, to);
  return Object.fromEntries(Object.entries(all).filter(([, n]) => n > 0));
}

/** Only the named attacks (`--attacks flood,garbage`; empty: all), the others off. */
function selectAttacks(names: readonly string[], config: AbuseConfig): AbuseConfig {
  if (names.length === 0) return config;
  const on = (name: string) => names.includes(name);
  return {
    ...config,
    flood: on("flood") ? config.flood : { ...config.flood, perSec: 0 },
    forged: on("forged") ? config.forged : { ...config.forged, perSec: 0 },
    padded: on("padded") ? config.padded : { ...config.padded, servers: 0 },
    slowLobby: on("slowLobby") ? config.slowLobby : { ...config.slowLobby, perSec: 0 },
    connectFlood: on("connectFlood") ? config.connectFlood : { ...config.connectFlood, perSec: 0 },
    connectionCap: on("connectionCap")
      ? config.connectionCap
      : { ...config.connectionCap, sockets: 0 },
    pinger: on("pinger") ? config.pinger : { ...config.pinger, sockets: 0 },
    garbage: on("garbage") ? config.garbage : { ...config.garbage, perSec: 0 },
  };
}

export interface AbuseModeResult {
  mode: Mode;
  nodes: number;
  attackSeconds: number;
  config: Omit<AbuseConfig, "targets">;
  quiet: RunResult;
  during: RunResult;
  recovery: RunResult;
  real: { victim: RealOutcomes; others: RealOutcomes; victimIp: string };
  /** Server -1s naming attackers (the flooded server's) and forged client ports (a forger won). */
  foreign: { attackerClients: number; forgedClientPorts: number; other: number };
  rssMiB: Series[];
  heapUsedMiB: Series[];
  /** Each node's CPU over the attack, % of one core (mean of the per-second readings). */
  nodeCpuPercent: Array<number | null>;
  /**
   * CPU over the attack in % of one core (mean per second): the whole box, the
   * load generator, the attacker, Redis, and what is left (other processes).
   */
  cpu: {
    box: number | null;
    generator: number | null;
    attacker: number;
    redis: number | null;
    others: number | null;
  };
  lag: LagSummary[];
  tcpConnections: Series[];
  redisKeys: Series | null;
  redisCpuPercent: number | null;
  badInput: Record<string, number>;
  connectOutcomes: Record<string, number>;
  lobbyResults: Record<string, number>;
  udpResults: Record<string, number>;
  attackers: AbuseReport;
  attackerCpuSec: number;
  attackerBytesReceived: number;
  /** Machine-wide UDP receive-buffer drops during the attack (see udpReceiveBufferDrops). */
  udpReceiveBufferDrops: number | null;
  samples: Sample[];
  attackFromSec: number;
  attackToSec: number;
}

async function runMode(mode: Mode, options: CommonOptions): Promise<AbuseModeResult> {
  const attackSeconds = options.given.has("seconds") ? options.seconds : 45;
  const rate = options.given.has("rate") ? options.rate : 100;
  const servers = options.given.has("servers") ? options.servers : 200;
  const lobbyPerSec = options.given.has("lobby") ? options.lobbyPerSec : 5;
  const replyGapMs = options.given.has("reply-gap-ms") ? options.replyGapMs : 100;
  const pingMs = options.pingIntervalMs ?? 5_000;
  const udpWaitMs = 2_000;
  const crossNode = mode === "redis3";
  const cluster = await BenchCluster.start({
    mode,
    replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: options.cpuProfileDir,
    fdLimit: 65536,
    nodeOverrides: {
      clientUdpWaitMs: udpWaitMs,
      // V8 lets old space grow before a full collection: a cap shows what is really kept.
      ...(options.maxOldSpaceMiB
        ? { extraEnv: { NODE_OPTIONS: `--max-old-space-size=${options.maxOldSpaceMiB}` } }
        : {}),
    },
  });
  const foreign = { attackerClients: 0, forgedClientPorts: 0, other: 0 };
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    servers,
    tag: TAG,
    pingIntervalMs: pingMs,
    startSpreadMs: Math.min(pingMs, 5_000),
    onForeignPeer: (_server, ip, port) => {
      const role = roleOf(ip);
      if (role === "attacker") foreign.attackerClients++;
      else if (role === "client" && isForgedPort(port)) foreign.forgedClientPorts++;
      else {
        foreign.other++;
        return false; // nobody we know: a wrong reply
      }
      return true;
    },
  });
  const sampler = new ClusterSampler(cluster, COUNTERS, 1_000);
  let attacker: AttackerProcess | null = null;
  try {
    await fleet.start();
    await fleet.prepareClients(CLIENTS);
    await cluster.confirmRegistered(fleet);
    await sampler.start();
    const victim = fleet.servers[0];
    if (!victim) throw new Error("no servers");
    const config: AbuseConfig = selectAttacks(options.attacks, {
      targets: cluster.targets,
      seconds: attackSeconds,
      seed: options.seed,
      flood: { perSec: options.floodRate, garbagePercent: 10 },
      forged: { perSec: 200, servers, clients: CLIENTS },
      padded: { servers: 60, tag: TAG, fieldBytes: 1000 },
      slowLobby: { perSec: 40, sources: 4, holdMs: 12_000 },
      connectFlood: { perSec: 60, sources: 3, victimIp: victim.ip },
      connectionCap: { sockets: 400, heldAfterMs: 5_000 }, // idle timeout 10 s
      pinger: { sockets: 60, everyMs: 2_000 },
      garbage: { perSec: 30 },
    });
    log(
      `${mode}: ${servers} real servers (ping ${pingMs} ms), real load ${rate} connects/s + ${lobbyPerSec} lobby/s; ${QUIET_SECONDS} s quiet first`,
    );
    const quiet = await fleet.run({
      connectsPerSec: rate,
      seconds: QUIET_SECONDS,
      crossNode,
      lobbyPerSec,
    });
    const snapBefore = sampler.snapshot();
    const rcvbufBefore = udpReceiveBufferDrops();
    attacker = await AttackerProcess.spawn(config);
    const attackFromSec = sampler.nowSec();
    log(
      `${mode}: attacks started for ${attackSeconds} s (UDP flood ${options.floodRate}/s from new sources)`,
    );
    const real = { victim: emptyOutcomes(), others: emptyOutcomes(), victimIp: victim.ip };
    const during = await fleet.run({
      connectsPerSec: rate,
      seconds: attackSeconds,
      crossNode,
      lobbyPerSec,
      connectTimeoutMs: 8_000,
      onConnectDone: (done) =>
        tally(done.server === victim ? real.victim : real.others, done, udpWaitMs),
      onSecond: (second, stats) => {
        if (second % 5 !== 0) return;
        const last = sampler.samples.at(-1);
        log(
          `  ${second}s real found=${stats.clientFound}/${stats.started} -2=${stats.notFound} wrong=${wrongReplies(stats)} timeouts=${stats.clientTimeouts + stats.serverTimeouts} | RSS ${last?.nodes.map((n) => n.rssMiB).join("/")} MiB, lag p99 ${last?.nodes.map((n) => n.lagP99Ms).join("/")} ms, tcp ${last?.nodes.map((n) => n.tcpConnections).join("/")}${last?.redisKeys !== null && last?.redisKeys !== undefined ? `, Redis keys ${last.redisKeys}` : ""}`,
        );
      },
    });
    const attackers = await attacker.done();
    const attackerCpuSec = attacker.cpuSeconds();
    attacker = null;
    const attackToSec = sampler.nowSec();
    const rcvbufAfter = udpReceiveBufferDrops();
    const snapAfter = sampler.snapshot();
    log(`${mode}: attacks over; ${RECOVERY_SECONDS} s of real load alone`);
    const recovery = await fleet.run({
      connectsPerSec: rate,
      seconds: RECOVERY_SECONDS,
      crossNode,
      lobbyPerSec,
    });
    await sampler.stop();
    const samples = sampler.samples;
    const inAttack = samples.filter((s) => s.atSec >= attackFromSec && s.atSec <= attackToSec);
    const cpuFirst = inAttack.find((s) => s.redisCpuSec !== null);
    const cpuLast = inAttack.filter((s) => s.redisCpuSec !== null).at(-1);
    const redisCpuPercent =
      cpuFirst && cpuLast && cpuLast.atSec > cpuFirst.atSec
        ? Math.round(
            (((cpuLast.redisCpuSec as number) - (cpuFirst.redisCpuSec as number)) /
              (cpuLast.atSec - cpuFirst.atSec)) *
              1000,
          ) / 10
        : null;
    const mean = (values: Array<number | null>) => {
      const known = values.filter((v): v is number => v !== null);
      return known.length > 0 ? Math.round(known.reduce((a, b) => a + b, 0) / known.length) : null;
    };
    const nodeCpuPercent = cluster.nodes.map((_, i) =>
      mean(inAttack.map((s) => s.nodes[i]?.cpuPercent ?? null)),
    );
    const box = mean(inAttack.map((s) => s.boxCpuPercent));
    const generator = mean(inAttack.map((s) => s.generatorCpuPercent));
    const attackerPercent = Math.round((attackerCpuSec / attackSeconds) * 100);
    const ours =
      nodeCpuPercent.reduce<number>((a, b) => a + (b ?? 0), 0) +
      (generator ?? 0) +
      attackerPercent +
      (redisCpuPercent ?? 0);
    const attackerBytesReceived = Object.values(attackers).reduce(
      (sum, a) => sum + a.bytesReceived,
      0,
    );
    const { targets: _targets, ...configShown } = config;
    return {
      mode,
      nodes: cluster.nodes.length,
      attackSeconds,
      config: configShown,
      quiet,
      during,
      recovery,
      real,
      foreign,
      rssMiB: cluster.nodes.map((_, i) =>
        series(samples, (s) => s.nodes[i]?.rssMiB ?? null, attackFromSec, attackToSec),
      ),
      heapUsedMiB: cluster.nodes.map((_, i) =>
        series(samples, (s) => s.nodes[i]?.heapUsedMiB ?? null, attackFromSec, attackToSec),
      ),
      lag: cluster.nodes.map((_, i) => lagSummary(samples, i, attackFromSec, attackToSec)),
      nodeCpuPercent,
      cpu: {
        box,
        generator,
        attacker: attackerPercent,
        redis: redisCpuPercent,
        others: box === null ? null : Math.max(0, Math.round(box - ours)),
      },
      tcpConnections: cluster.nodes.map((_, i) =>
        series(samples, (s) => s.nodes[i]?.tcpConnections ?? null, attackFromSec, attackToSec),
      ),
      redisKeys: cluster.redis
        ? series(samples, (s) => s.redisKeys, attackFromSec, attackToSec)
        : null,
      redisCpuPercent,
      badInput: delta(sampler, "gmnet_bad_input_total", "reason", snapBefore, snapAfter),
      connectOutcomes: delta(
        sampler,
        "gmnet_connect_outcomes_total",
        "outcome",
        snapBefore,
        snapAfter,
      ),
      lobbyResults: delta(sampler, "gmnet_lobby_requests_total", "result", snapBefore, snapAfter),
      udpResults: delta(sampler, "gmnet_udp_datagrams_total", "result", snapBefore, snapAfter),
      attackers,
      attackerCpuSec,
      attackerBytesReceived,
      udpReceiveBufferDrops:
        rcvbufBefore === null || rcvbufAfter === null ? null : rcvbufAfter - rcvbufBefore,
      samples,
      attackFromSec,
      attackToSec,
    };
  } finally {
    attacker?.kill();
    fleet.close();
    await sampler.stop();
    await cluster.stop();
  }
}

const list = (values: Record<string, number>) =>
  Object.entries(values)
    .sort(([, a], [, b]) => b - a)
    .map(([k, n]) => `${k}=${n}`)
    .join(" ");

const outcomesText = (o: RealOutcomes) =>
  `found ${o.found}, -2 ${o.notFoundAtOnce} at once + ${o.notFoundAfterUdpWait} after the UDP wait, wrong ${o.wrong}, timeouts ${o.timeouts}, tcpErrors ${o.tcpErrors}`;

const seriesText = (s: Series) =>
  `${s.atStart}→${s.at10s}(10s)→${s.at20s}(20s)→${s.atEnd}(end), peak ${s.peak}, after ${s.after}`;

const attacksText = (report: AbuseReport) =>
  Object.entries(report)
    .map(
      ([name, a]) =>
        `${name} sent ${a.sent}` +
        (a.connections ? ` on ${a.connections} conns (${a.closedByNode} closed by the node)` : "") +
        ` got ${a.bytesReceived} B` +
        (Object.keys(a.detail).length > 0 ? ` [${list(a.detail)}]` : ""),
    )
    .join("; ");

function modeSummary(r: AbuseModeResult): string {
  const d = r.during.stats;
  const lags = r.lag.map((l) => `${l.p99MedianMs}/${l.p99WorstMs} (max ${l.maxMs})`).join(", ");
  return (
    `${r.mode} (${r.nodes} node${r.nodes > 1 ? "s" : ""}), ${r.attackSeconds} s of attacks: ` +
    `REAL GAMES ${d.clientFound}/${d.started} found, wrong ${wrongReplies(d)} + ${r.foreign.forgedClientPorts} game servers told a forged client port (their punch fails), -2 ${d.notFound}, timeouts ${d.clientTimeouts + d.serverTimeouts}, p50/p99 ${r.during.clientLatency.p50Ms}/${r.during.clientLatency.p99Ms} ms (quiet p99 ${r.quiet.clientLatency.p99Ms} ms); ` +
    `to the flooded server: ${outcomesText(r.real.victim)}; to the others: ${outcomesText(r.real.others)}; ` +
    `the flooded server told about attackers ${r.foreign.attackerClients}; ` +
    `lobby ${d.lobbyOk}/${d.lobbyRequests} answered, ${d.lobbyEmptyReplies} of them empty, largest ${d.lobbyMaxReplyBytes} B; recovery ${r.recovery.stats.clientFound}/${r.recovery.stats.started} found, wrong ${wrongReplies(r.recovery.stats)}; ` +
    `RSS MiB ${r.rssMiB.map(seriesText).join(" | ")}; V8 heap used MiB ${r.heapUsedMiB.map(seriesText).join(" | ")}; ` +
    `event-loop p99 median/worst per second ms ${lags} (readings include the ${LAG_RESOLUTION_MS} ms sampling interval); CPU % of a core: nodes ${r.nodeCpuPercent.join("/")}, generator ${r.cpu.generator}, attacker ${r.cpu.attacker}${r.cpu.redis !== null ? `, Redis ${r.cpu.redis}` : ""}, other processes on the box ${r.cpu.others} (box ${r.cpu.box} of 200); generator loop p99 ${r.during.generatorLoopDelayP99Ms} ms; ` +
    (r.redisKeys
      ? `Redis keys ${seriesText(r.redisKeys)}, Redis CPU ${r.redisCpuPercent}% of a core; `
      : "") +
    `attackers got ${r.attackerBytesReceived} B back, attacker CPU ${Math.round(r.attackerCpuSec)} s: ${attacksText(r.attackers)}; ` +
    `UDP datagrams dropped by a full receive buffer (machine-wide) ${r.udpReceiveBufferDrops}; bad input ${list(r.badInput)}; node connect outcomes ${list(r.connectOutcomes)}; lobby ${list(r.lobbyResults)}`
  );
}

export async function runAbuse(options: CommonOptions) {
  const modes = (options.given.has("modes") ? options.modes : ["memory", "redis3"]) as Mode[];
  const results: AbuseModeResult[] = [];
  for (const mode of modes) {
    const result = await runMode(mode, options);
    log(modeSummary(result));
    results.push(result);
  }
  // The target: real games 100 % right. A -1 naming a forged port is a wrong reply to a game server.
  const ok = results.every(
    (r) =>
      wrongReplies(r.during.stats) === 0 &&
      r.foreign.forgedClientPorts === 0 &&
      wrongReplies(r.recovery.stats) === 0,
  );
  return { summary: results.map(modeSummary).join("\n"), result: results, ok };
}
