// Benchmark entry: `npm run bench -- --scenario NAME [options]`. Each scenario
// prints progress to stderr, ONE summary line to stdout, and writes its full
// result as JSON under bench/results/. Build first (`npm run build`): master
// nodes run as `node dist/cli.js` children. Traffic stays on 127.0.0.0/8.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { runAbuse } from "./scenarios/abuse.js";
import { runFloor } from "./scenarios/floor.js";
import { runFuzzScenario } from "./scenarios/fuzz.js";
import { runMemoryScenario } from "./scenarios/memory.js";
import { runRedisCpu } from "./scenarios/rediscpu.js";
import { runCompare, runRamp, runRedisCost } from "./scenarios/throughput.js";
import { runSlowloris } from "./scenarios/slowloris.js";
import { runSoak } from "./scenarios/soak.js";
import { machineInfo, RESULTS_DIR } from "./lib/procs.js";

const { values, tokens } = parseArgs({
  tokens: true,
  options: {
    scenario: { type: "string", default: "compare" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "5000" },
    servers: { type: "string", default: "300" },
    clients: { type: "string", default: "4096" },
    lobby: { type: "string", default: "20" },
    "reply-gap-ms": { type: "string", default: "1" },
    "log-level": { type: "string", default: "warn" },
    modes: { type: "string", default: "memory,redis1,redis3" },
    "cpu-prof": { type: "boolean", default: false },
    "alloc-sample": { type: "boolean", default: false },
    "p99-limit-ms": { type: "string", default: "5" },
    steps: { type: "string", default: "" },
    rates: { type: "string", default: "" },
    rounds: { type: "string", default: "2" },
    "rss-sockets": { type: "string", default: "8000" },
    counts: { type: "string", default: "10000,50000,100000" },
    inputs: { type: "string", default: "1000000" },
    sockets: { type: "string", default: "10000" },
    minutes: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    "ping-interval-ms": { type: "string", default: "" },
    "relist-intervals": { type: "string", default: "5000,10000,20000" },
    "relist-servers": { type: "string", default: "90" },
    "flood-rate": { type: "string", default: "6000" },
    attacks: { type: "string", default: "" },
    "max-old-space-mib": { type: "string", default: "" },
  },
  strict: true,
});

export interface CommonOptions {
  seconds: number;
  rate: number;
  servers: number;
  clients: number;
  lobbyPerSec: number;
  replyGapMs: number;
  logLevel: string;
  modes: string[];
  cpuProfileDir: string | null;
  p99LimitMs: number;
  steps: number[];
  /** floor: the fixed rates (--rate when empty). */
  rates: number[];
  /** floor: segments per contender and rate, alternated F R R F ... */
  rounds: number;
  /** floor: kept server sockets for the RSS reading (0 = skip it). */
  rssSockets: number;
  counts: number[];
  inputs: number;
  sockets: number;
  minutes: number;
  seed: number;
  /** soak, abuse: the game servers' keepalive interval (null: the scenario's own default). */
  pingIntervalMs: number | null;
  /** soak: ping intervals for the SIGKILL relist measurement. */
  relistIntervals: number[];
  /** soak: servers per relist measurement (about a third are on the killed node). */
  relistServers: number;
  /** abuse: spoofed-source UDP datagrams per second (all nodes together). */
  floodRate: number;
  /** abuse: the attacks to run (empty: all of them). */
  attacks: string[];
  /** abuse: the nodes' V8 old-space cap (--max-old-space-size); null: V8's own default. */
  maxOldSpaceMiB: number | null;
  /** Options given on the command line (a scenario may have its own defaults for the rest). */
  given: ReadonlySet<string>;
}

const numbers = (text: string) =>
  text
    .split(",")
    .filter((t) => t.trim() !== "")
    .map(Number);

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const scenario = values.scenario as string;
const options: CommonOptions = {
  seconds: Number(values.seconds),
  rate: Number(values.rate),
  servers: Number(values.servers),
  clients: Number(values.clients),
  lobbyPerSec: Number(values.lobby),
  replyGapMs: Number(values["reply-gap-ms"]),
  logLevel: values["log-level"] as string,
  modes: (values.modes as string).split(","),
  cpuProfileDir: values["cpu-prof"] ? `${RESULTS_DIR}profiles/${scenario}-${stamp}` : null,
  p99LimitMs: Number(values["p99-limit-ms"]),
  steps: numbers(values.steps as string),
  rates: numbers(values.rates as string),
  rounds: Number(values.rounds),
  rssSockets: Number(values["rss-sockets"]),
  counts: numbers(values.counts as string),
  inputs: Number(values.inputs),
  sockets: Number(values.sockets),
  minutes: Number(values.minutes),
  seed: Number(values.seed),
  pingIntervalMs: values["ping-interval-ms"] ? Number(values["ping-interval-ms"]) : null,
  relistIntervals: numbers(values["relist-intervals"] as string),
  relistServers: Number(values["relist-servers"]),
  floodRate: Number(values["flood-rate"]),
  attacks: (values.attacks as string).split(",").filter((a) => a !== ""),
  maxOldSpaceMiB: values["max-old-space-mib"] ? Number(values["max-old-space-mib"]) : null,
  given: new Set(tokens.flatMap((t) => (t.kind === "option" ? [t.name] : []))),
};

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync("redis-server", ["--version"]).toString())?.[1] ?? "?";
  } catch {
    return "?";
  }
}

async function main(): Promise<number> {
  if (options.cpuProfileDir) mkdirSync(options.cpuProfileDir, { recursive: true });
  if (values["alloc-sample"]) {
    // Read by every master spawner (allocSampling in bench/lib/procs.ts).
    const dir = `${RESULTS_DIR}profiles/${scenario}-${stamp}`;
    mkdirSync(dir, { recursive: true });
    process.env.GMNET_BENCH_ALLOC_DIR = dir;
  }
  const scenarios: Record<
    string,
    () => Promise<{ summary: string; result: unknown; ok: boolean }>
  > = {
    abuse: () => runAbuse(options),
    compare: () => runCompare(options),
    floor: () => runFloor(options),
    ramp: () => runRamp(options),
    rediscost: () => runRedisCost(options),
    rediscpu: () => runRedisCpu(options),
    memory: () => runMemoryScenario(options),
    fuzz: () => runFuzzScenario(options),
    slowloris: () => runSlowloris(options),
    soak: () => runSoak(options),
  };
  const run = scenarios[scenario];
  if (!run) {
    process.stderr.write(`unknown scenario ${scenario}: ${Object.keys(scenarios).join(", ")}\n`);
    return 2;
  }
  // The box's load before and after: other processes sharing the two cores show here.
  const loadBefore = loadavg();
  const { summary, result, ok } = await run();
  const loadAfter = loadavg();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${scenario}-${stamp}.json`;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        scenario,
        at: new Date().toISOString(),
        machine: { ...machineInfo(), redis: redisVersion(), loadBefore, loadAfter },
        options: { ...options, given: [...options.given] },
        result,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`wrote ${file}\n`);
  process.stdout.write(`${summary}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
