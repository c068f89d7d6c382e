// fuzz: ≥1M random and mutated UDP datagrams and TCP streams against a live
// node while real games keep connecting through it. Passes when the node
// stays up and ready, every real reply is right, and RSS returns near baseline.
import { BenchCluster } from "../lib/cluster.js";
import { runFuzz } from "../lib/fuzz.js";
import { ServerFleet, wrongReplies } from "../lib/load.js";
import { sleep, sumMetric } from "../lib/procs.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);
const mib = (bytes: number) => Math.round(bytes / 1048576);

export async function runFuzzScenario(options: CommonOptions) {
  const cluster = await BenchCluster.start({
    mode: "memory",
    replyGapMs: options.replyGapMs,
    logLevel: options.logLevel,
    cpuProfileDir: options.cpuProfileDir,
    fdLimit: 65536,
    idleTimeoutMs: 2_000,
    // Rate limiting off: this fuzzes the decoders, not the per-IP limiter in front of them.
    nodeOverrides: {
      extraEnv: {
        GMNET_UDP_RATE_PER_ENDPOINT: "0",
        GMNET_UDP_STORE_RATE: "0",
        GMNET_CONNECT_RATE_PER_SOURCE: "0",
        GMNET_LOBBY_RATE_PER_SOURCE: "0",
      },
    },
  });
  const node = cluster.nodes[0];
  if (!node) throw new Error("no node");
  const fleet = new ServerFleet({
    nodes: cluster.targets,
    servers: 50,
    tag: "bench-fuzz",
    pingIntervalMs: 1_000,
  });
  try {
    await fleet.start();
    await fleet.prepareClients(512);
    await cluster.confirmRegistered(fleet);
    await fleet.run({ connectsPerSec: 200, seconds: 2, crossNode: false });
    await sleep(2_000);
    const baselineRss = node.rssBytes();
    const heapUsed = async () => sumMetric(await node.metricsText(), "nodejs_heap_size_used_bytes");
    const baselineHeap = await heapUsed();
    const tcpStreams = Math.round(options.inputs / 10);
    const udpInputs = options.inputs - tcpStreams;
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, node.rssBytes());
    }, 250);
    log(
      `fuzzing: ${udpInputs} datagrams + ${tcpStreams} TCP streams, seed ${options.seed}; real traffic 100 connects/s`,
    );
    const fuzzing = runFuzz({
      target: cluster.targets[0] as { host: string; port: number },
      udpInputs,
      tcpStreams,
      seed: options.seed,
      udpPerSec: 40_000,
      tcpConcurrency: 128,
      maxSeconds: 600,
    });
    let fuzzDone = false;
    void fuzzing.finally(() => {
      fuzzDone = true;
    });
    const realRuns = [];
    for (let round = 0; round < 600 && !fuzzDone; round++) {
      realRuns.push(
        await fleet.run({
          connectsPerSec: 100,
          seconds: 5,
          crossNode: false,
          lobbyPerSec: 5,
          connectTimeoutMs: 5_000,
        }),
      );
    }
    const fuzz = await fuzzing;
    clearInterval(sampler);
    const aliveAfterFuzz = node.running && (await node.ready());
    log(`fuzz done in ${fuzz.seconds}s; settling 8 s (idle timeout 2 s)`);
    await sleep(8_000);
    const settledRss = node.rssBytes();
    const settledHeap = await heapUsed();
    const after = await fleet.run({
      connectsPerSec: 200,
      seconds: 2,
      crossNode: false,
      lobbyPerSec: 5,
    });
    const metrics = await node.metricsText();
    const badInput = sumMetric(metrics, "gmnet_bad_input_total");
    const openTcp = sumMetric(metrics, "gmnet_tcp_connections");
    const real = realRuns.reduce(
      (acc, r) => ({
        started: acc.started + r.stats.started,
        found: acc.found + r.stats.clientFound,
        completed: acc.completed + r.stats.completed,
        failed:
          acc.failed +
          r.stats.notFound +
          r.stats.clientTimeouts +
          r.stats.serverTimeouts +
          r.stats.tcpErrors,
        wrong: acc.wrong + wrongReplies(r.stats),
        lobbyOk: acc.lobbyOk + r.stats.lobbyOk,
        lobby: acc.lobby + r.stats.lobbyRequests,
      }),
      { started: 0, found: 0, completed: 0, failed: 0, wrong: 0, lobbyOk: 0, lobby: 0 },
    );
    const ok =
      aliveAfterFuzz &&
      real.wrong === 0 &&
      wrongReplies(after.stats) === 0 &&
      after.stats.completed === after.stats.started &&
      settledRss < baselineRss * 1.5 + 32 * 1048576;
    const summary =
      `fuzz ${fuzz.udpSent} datagrams + ${fuzz.tcpStreams} TCP streams in ${fuzz.seconds}s: node ${aliveAfterFuzz ? "alive+ready" : "DOWN"}, ` +
      `bad_input=${badInput}, real connects during fuzz ${real.completed}/${real.started} ok (${real.failed} failed, ${real.wrong} wrong), lobby ${real.lobbyOk}/${real.lobby}, ` +
      `after: ${after.stats.completed}/${after.stats.started} ok, wrong=${wrongReplies(after.stats)}; ` +
      `RSS baseline ${mib(baselineRss)} MiB, peak ${mib(peakRss)} MiB, settled ${mib(settledRss)} MiB; V8 heap used ${mib(baselineHeap)} → ${mib(settledHeap)} MiB; open TCP after settle ${openTcp}`;
    return {
      summary,
      result: {
        fuzz,
        real,
        after,
        baselineHeap,
        settledHeap,
        baselineRss,
        peakRss,
        settledRss,
        badInput,
        openTcp,
        aliveAfterFuzz,
      },
      ok,
    };
  } finally {
    fleet.close();
    await cluster.stop();
  }
}
