// floor: the real node (memory mode) beside the bare-Node floor master
// (bench/floor/) under the same load, in one invocation, alternated at each
// fixed rate (floor, real, real, floor, ...) so both see the same machine;
// then RSS per kept server socket on fresh processes of each. Prints the
// absolute figures and the ratios real/floor.
import { confirmRegisteredByProbe } from "../floor/confirm.js";
import { FloorProcess } from "../floor/floor-process.js";
import { BenchCluster } from "../lib/cluster.js";
import { type RunResult, ServerFleet, type Target, wrongReplies } from "../lib/load.js";
import { sleep, sumMetric, until } from "../lib/procs.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);

type Kind = "floor" | "real";

/** What the scenario needs of either master process. */
interface Contender {
  kind: Kind;
  target: Target;
  cpuSeconds(): number;
  rssBytes(): number;
  /** Resolves once `fleet` is registered, as the master itself can show it. */
  confirm(fleet: ServerFleet): Promise<void>;
  stop(): Promise<void>;
}

async function startContender(kind: Kind, options: CommonOptions): Promise<Contender> {
  if (kind === "floor") {
    const floor = await FloorProcess.spawn({
      fdLimit: 65536,
      cpuProfileDir: options.cpuProfileDir,
    });
    const target = { host: floor.host, port: floor.port };
    return {
      kind,
      target,
      cpuSeconds: () => floor.cpuSeconds(),
      rssBytes: () => floor.rssBytes(),
      confirm: (fleet) => confirmRegisteredByProbe(target, fleet.servers),
      stop: () => floor.stop(),
    };
  }
  // The same real node as `compare`'s memory mode: dist/cli.js, reply gap and log level as given.
  const cluster = await BenchCluster.start({
    mode: "memory",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: options.cpuProfileDir,
    fdLimit: 65536,
  });
  const node = cluster.nodes[0];
  if (!node) throw new Error("no node");
  return {
    kind,
    target: { host: node.host, port: node.port },
    cpuSeconds: () => node.cpuSeconds(),
    rssBytes: () => node.rssBytes(),
    confirm: async (fleet) => {
      // The node's own count: cheaper for its heap than paging the admin API.
      await until(
        async () =>
          sumMetric(await node.metricsText(), "gmnet_registered_servers", 'scope="node"') >=
          fleet.servers.length,
        120_000,
        `${fleet.servers.length} registrations on the node`,
        500,
      );
    },
    stop: () => cluster.stop(),
  };
}

/** One contender's figures at one rate, summed over its segments. */
export interface Figures {
  kind: Kind;
  segments: number;
  started: number;
  completed: number;
  achievedPerSec: number;
  cpuSec: number;
  cpuUsPerConnect: number;
  clientP50Ms: number;
  clientP99Ms: number;
  serverP99Ms: number;
  wrong: number;
  notFound: number;
  timeouts: number;
  tcpErrors: number;
  skipped: number;
  generatorLoopP99MaxMs: number;
}

function emptyFigures(kind: Kind): Figures {
  return {
    kind,
    segments: 0,
    started: 0,
    completed: 0,
    achievedPerSec: 0,
    cpuSec: 0,
    cpuUsPerConnect: 0,
    clientP50Ms: 0,
    clientP99Ms: 0,
    serverP99Ms: 0,
    wrong: 0,
    notFound: 0,
    timeouts: 0,
    tcpErrors: 0,
    skipped: 0,
    generatorLoopP99MaxMs: 0,
  };
}

function addSegment(f: Figures, run: RunResult, cpuSec: number, elapsedTotalSec: number): void {
  const s = run.stats;
  f.segments++;
  f.started += s.started;
  f.completed += s.completed;
  f.cpuSec += cpuSec;
  f.wrong += wrongReplies(s);
  f.notFound += s.notFound;
  f.timeouts += s.clientTimeouts + s.serverTimeouts;
  f.tcpErrors += s.tcpErrors;
  f.skipped += s.skipped;
  f.generatorLoopP99MaxMs = Math.max(f.generatorLoopP99MaxMs, run.generatorLoopDelayP99Ms);
  f.achievedPerSec = Math.round(f.completed / Math.max(elapsedTotalSec, 0.001));
  f.cpuUsPerConnect = Math.round((f.cpuSec * 1e6) / Math.max(1, f.completed));
  // The fleet kept its histograms across this rate's segments: these cover all of them.
  f.clientP50Ms = run.clientLatency.p50Ms;
  f.clientP99Ms = run.clientLatency.p99Ms;
  f.serverP99Ms = run.serverLatency.p99Ms;
}

/** real / floor, two decimals; null when the floor's figure is 0 (no ratio to speak of). */
function ratio(real: number, floor: number): number | null {
  return floor > 0 ? Math.round((real / floor) * 100) / 100 : null;
}

interface RateResult {
  rate: number;
  floor: Figures;
  real: Figures;
  ratios: {
    cpuUsPerConnect: number | null;
    clientP50: number | null;
    clientP99: number | null;
    serverP99: number | null;
  };
}

interface Live {
  contender: Contender;
  fleet: ServerFleet;
}

async function startLive(kind: Kind, options: CommonOptions): Promise<Live> {
  const contender = await startContender(kind, options);
  const fleet = new ServerFleet({
    nodes: [contender.target],
    servers: options.servers,
    tag: `bench-${kind}`,
    pingIntervalMs: 5_000,
  });
  await fleet.start();
  await fleet.prepareClients(options.clients);
  await contender.confirm(fleet);
  log(`${kind}: ${options.servers} servers registered`);
  return { contender, fleet };
}

/** Each contender gets `seconds` per rate, in `rounds` segments: F R R F F R ... (ABBA). */
async function measureRates(options: CommonOptions, lives: Record<Kind, Live>) {
  const rateList = options.rates.length > 0 ? options.rates : [options.rate];
  const rounds = Math.max(1, options.rounds);
  const segmentSec = Math.max(1, options.seconds / rounds);
  const results: RateResult[] = [];
  for (const kind of ["floor", "real"] as const) {
    log(`${kind}: warm-up 2 s`);
    const warm = await lives[kind].fleet.run({
      connectsPerSec: Math.min(rateList[0] ?? 1000, 2000),
      seconds: 2,
      crossNode: false,
    });
    log(`${kind}: warm-up found ${warm.stats.clientFound}/${warm.stats.started}`);
  }
  for (const rate of rateList) {
    const figures = { floor: emptyFigures("floor"), real: emptyFigures("real") };
    const elapsed = { floor: 0, real: 0 };
    for (let round = 0; round < rounds; round++) {
      const order: Kind[] = round % 2 === 0 ? ["floor", "real"] : ["real", "floor"];
      for (const kind of order) {
        const { contender, fleet } = lives[kind];
        await sleep(500); // let the previous segment's stragglers and GC settle
        const cpuBefore = contender.cpuSeconds();
        const run = await fleet.run({
          connectsPerSec: rate,
          seconds: segmentSec,
          crossNode: false,
          lobbyPerSec: 0, // connects only: the floor keeps no lobby
          keepLatencies: round > 0,
        });
        const cpuSec = contender.cpuSeconds() - cpuBefore;
        elapsed[kind] += run.elapsedSec;
        addSegment(figures[kind], run, cpuSec, elapsed[kind]);
        log(
          `${rate}/s round ${round + 1}/${rounds} ${kind}: ${run.stats.completed} done, ` +
            `CPU ${Math.round((cpuSec * 1e6) / Math.max(1, run.stats.completed))} us/connect, ` +
            `client p99 ${run.clientLatency.p99Ms} ms, wrong ${wrongReplies(run.stats)}, ` +
            `-2 ${run.stats.notFound}, timeouts ${run.stats.clientTimeouts + run.stats.serverTimeouts}`,
        );
      }
    }
    const { floor, real } = figures;
    results.push({
      rate,
      floor,
      real,
      ratios: {
        cpuUsPerConnect: ratio(real.cpuUsPerConnect, floor.cpuUsPerConnect),
        clientP50: ratio(real.clientP50Ms, floor.clientP50Ms),
        clientP99: ratio(real.clientP99Ms, floor.clientP99Ms),
        serverP99: ratio(real.serverP99Ms, floor.serverP99Ms),
      },
    });
  }
  return results;
}

interface RssResult {
  kind: Kind;
  sockets: number;
  baselineMiB: number;
  withSocketsMiB: number;
  bytesPerSocket: number;
  /** Connects made after the reading, against the kept sockets: all must be found. */
  verified: { started: number; found: number; wrong: number };
}

/** A fresh process: RSS idle, then with `sockets` registered server sockets kept open. */
async function measureRss(kind: Kind, sockets: number, options: CommonOptions) {
  const contender = await startContender(kind, { ...options, cpuProfileDir: null });
  const fleet = new ServerFleet({
    nodes: [contender.target],
    servers: sockets,
    tag: `bench-rss-${kind}`,
    keepUdp: false, // half the generator's fds; the master keeps only TCP
    pingIntervalMs: 0, // kept sockets only, as before (no keepalive traffic in the reading)
    registerConcurrency: 256,
  });
  try {
    await sleep(3_000);
    const baseline = contender.rssBytes();
    await fleet.start();
    await sleep(6_000); // registrations processed, GC settled (as the memory scenario)
    const withSockets = contender.rssBytes();
    if (fleet.connectedServers !== sockets)
      throw new Error(`${kind}: only ${fleet.connectedServers}/${sockets} server sockets open`);
    // After the reading, so neither the probes nor the scrapes weigh on it.
    await contender.confirm(fleet);
    await fleet.prepareClients(64);
    const check = await fleet.run({
      connectsPerSec: 200,
      seconds: 1,
      maxConnects: 200,
      crossNode: false,
    });
    const result: RssResult = {
      kind,
      sockets,
      baselineMiB: Math.round((baseline / 1048576) * 10) / 10,
      withSocketsMiB: Math.round((withSockets / 1048576) * 10) / 10,
      bytesPerSocket: Math.round((withSockets - baseline) / sockets),
      verified: {
        started: check.stats.started,
        found: check.stats.clientFound,
        wrong: wrongReplies(check.stats),
      },
    };
    log(`rss ${JSON.stringify(result)}`);
    return result;
  } finally {
    fleet.close();
    await contender.stop();
  }
}

function line(r: RateResult): string {
  const f = (x: Figures) =>
    `${x.achievedPerSec}/s CPU ${x.cpuUsPerConnect}us/connect client p50 ${x.clientP50Ms} p99 ${x.clientP99Ms} ` +
    `server p99 ${x.serverP99Ms} wrong ${x.wrong} -2 ${x.notFound} timeouts ${x.timeouts}`;
  const x = (v: number | null) => (v === null ? "n/a" : `${v}x`);
  return (
    `${r.rate}/s: real ${f(r.real)} | floor ${f(r.floor)} | real/floor CPU ${x(r.ratios.cpuUsPerConnect)} ` +
    `p50 ${x(r.ratios.clientP50)} p99 ${x(r.ratios.clientP99)} server p99 ${x(r.ratios.serverP99)}`
  );
}

export async function runFloor(options: CommonOptions) {
  // Both alive throughout; only one is loaded at a time (the idle one costs ~nothing).
  const started: Live[] = [];
  let rates: RateResult[];
  try {
    const floor = await startLive("floor", options);
    started.push(floor);
    const real = await startLive("real", options);
    started.push(real);
    rates = await measureRates(options, { floor, real });
  } finally {
    for (const live of started) {
      live.fleet.close();
      await live.contender.stop();
    }
  }
  for (const r of rates) log(line(r));
  const rss: RssResult[] = [];
  if (options.rssSockets > 0) {
    // Fresh processes, one at a time, so neither holds the other's fds or memory.
    rss.push(await measureRss("floor", options.rssSockets, options));
    rss.push(await measureRss("real", options.rssSockets, options));
  }
  const rssFloor = rss.find((r) => r.kind === "floor");
  const rssReal = rss.find((r) => r.kind === "real");
  const rssRatio =
    rssFloor && rssReal ? ratio(rssReal.bytesPerSocket, rssFloor.bytesPerSocket) : null;
  const summary =
    `floor ${options.seconds}s/rate rounds=${options.rounds} gap=${options.replyGapMs}ms | ` +
    rates.map(line).join(" | ") +
    (rssFloor && rssReal
      ? ` | RSS/socket (${options.rssSockets}) real ${rssReal.bytesPerSocket} B floor ${rssFloor.bytesPerSocket} B real/floor ${rssRatio ?? "n/a"}x`
      : "");
  const ok =
    rates.every((r) => r.floor.wrong === 0 && r.real.wrong === 0) &&
    rss.every((r) => r.verified.found === r.verified.started && r.verified.wrong === 0);
  return { summary, result: { rates, rss, rssRatio }, ok };
}
