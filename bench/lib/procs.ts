// Processes a benchmark owns: redis-server on a free port and master nodes
// as `node dist/cli.js` children (own event loop, raised fd limit), plus the
// readings taken from them (RSS, CPU time, Prometheus samples, Redis INFO).
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { spawnRedis } from "../../test/helpers/redis.js";
import { freeTcpPort, waitFor } from "../../test/helpers/wait.js";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

export const LOOPBACK = "127.0.0.1";
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));
/** V8 flags of every benchmarked Node process (the floor gets the same as the real node). */
export const BENCH_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=16"];

/**
 * `--alloc-sample` (run.ts sets GMNET_BENCH_ALLOC_DIR): the preload that
 * samples a master's allocations, and its settings; nothing otherwise.
 */
export function allocSampling(): { args: string[]; env: Record<string, string> } {
  const dir = process.env.GMNET_BENCH_ALLOC_DIR;
  if (!dir) return { args: [], env: {} };
  const env: Record<string, string> = { GMNET_BENCH_ALLOC_DIR: dir };
  for (const key of ["GMNET_BENCH_ALLOC_FROM_MS", "GMNET_BENCH_ALLOC_FOR_MS"]) {
    const value = process.env[key];
    if (value) env[key] = value;
  }
  return {
    args: ["--require", fileURLToPath(new URL("../tools/alloc-sample.cjs", import.meta.url))],
    env,
  };
}

/** bash raises the fd limit as far as the hard limit allows, then execs argv[0] with the rest. */
export function raisedFdLimitCommand(fdLimit: number, argv: readonly string[]): string[] {
  return [
    "-c",
    `{ ulimit -n ${fdLimit} 2>/dev/null || ulimit -n $(ulimit -Hn); } && exec "$0" "$@"`,
    ...argv,
  ];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it holds or `timeoutMs` passes (then throws). */
export function until<T>(
  predicate: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  return waitFor(predicate, timeoutMs, what, everyMs);
}

export const freePort = freeTcpPort;

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** A redis-server this benchmark started; `restart()` brings it back empty on the same port. */
export class BenchRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  static async start(): Promise<BenchRedis> {
    const redis = new BenchRedis(await freePort());
    await redis.restart();
    return redis;
  }

  async restart(): Promise<void> {
    await this.kill();
    this.child = await spawnRedis(
      [
        "--port",
        String(this.port),
        "--bind",
        LOOPBACK,
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--maxclients",
        "10000",
      ],
      this.port,
    );
  }

  /** SIGKILL: the data set is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child) return;
    const exited = exitOf(child);
    child.kill("SIGKILL");
    await exited;
  }

  client(options: { lazyConnect?: boolean } = {}): Redis {
    const client = new Redis(this.url, {
      lazyConnect: options.lazyConnect ?? false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on("error", () => undefined);
    return client;
  }

  async info(section: string): Promise<Record<string, string>> {
    const client = this.client();
    try {
      const text = await client.info(section);
      const values: Record<string, string> = {};
      for (const line of text.split("\n")) {
        const at = line.indexOf(":");
        if (at > 0) values[line.slice(0, at)] = line.slice(at + 1).trim();
      }
      return values;
    } finally {
      client.disconnect();
    }
  }

  async command(...args: string[]): Promise<unknown> {
    const client = this.client();
    try {
      const [name, ...rest] = args;
      return await client.call(name as string, ...rest);
    } finally {
      client.disconnect();
    }
  }

  /** Redis' own CPU seconds (user + sys) since start. */
  async cpuSeconds(): Promise<number> {
    const info = await this.info("cpu");
    return Number(info.used_cpu_user ?? 0) + Number(info.used_cpu_sys ?? 0);
  }
}

export interface NodeSpawnOptions {
  nodeId: string;
  redisUrl: string | null;
  keyPrefix?: string;
  replyGapMs: number;
  logLevel?: string;
  idleTimeoutMs?: number;
  clientUdpWaitMs?: number;
  leaseMs?: number;
  /** GMNET_DRAIN_TIMEOUT_MS; null: the node's own default (its ping interval + 30 s). Default 2000. */
  drainTimeoutMs?: number | null;
  /** GMNET_SERVER_PING_INTERVAL_MS: the games' keepalive a draining node expects. */
  serverPingIntervalMs?: number;
  fdLimit?: number;
  /** Directory for `node --cpu-prof` output; none = no profiling. */
  cpuProfileDir?: string | null;
  /** Fixed ports (a restart reuses them); free ones are picked otherwise. */
  port?: number;
  httpPort?: number;
  extraEnv?: Record<string, string>;
}

/** A master node as a child process. */
export class BenchNode {
  private child: ChildProcess | null = null;

  private constructor(
    readonly options: NodeSpawnOptions,
    readonly host: string,
    readonly port: number,
    readonly httpPort: number,
  ) {}

  static async spawn(options: NodeSpawnOptions): Promise<BenchNode> {
    const port = options.port ?? (await freePort());
    const httpPort = options.httpPort ?? (await freePort());
    const node = new BenchNode(options, LOOPBACK, port, httpPort);
    await node.start();
    return node;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get httpUrl(): string {
    return `http://${this.host}:${this.httpPort}`;
  }

  async start(): Promise<void> {
    const o = this.options;
    mkdirSync(`${RESULTS_DIR}logs`, { recursive: true });
    const logFd = openSync(`${RESULTS_DIR}logs/${o.nodeId}.log`, "a");
    const sampling = allocSampling();
    const nodeArgs = [...BENCH_NODE_FLAGS, ...sampling.args];
    if (o.cpuProfileDir) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${o.cpuProfileDir}`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      GMNET_HOST: this.host,
      GMNET_PORT: String(this.port),
      GMNET_HTTP_HOST: this.host,
      GMNET_HTTP_PORT: String(this.httpPort),
      GMNET_NODE_ID: o.nodeId,
      GMNET_REPLY_GAP_MS: String(o.replyGapMs),
      GMNET_IDLE_TIMEOUT_MS: String(o.idleTimeoutMs ?? 10_000),
      GMNET_CLIENT_UDP_WAIT_MS: String(o.clientUdpWaitMs ?? 2_000),
      GMNET_LEASE_MS: String(o.leaseMs ?? 15_000),
      ...(o.drainTimeoutMs === null
        ? {}
        : { GMNET_DRAIN_TIMEOUT_MS: String(o.drainTimeoutMs ?? 2000) }),
      ...(o.serverPingIntervalMs
        ? { GMNET_SERVER_PING_INTERVAL_MS: String(o.serverPingIntervalMs) }
        : {}),
      LOG_LEVEL: o.logLevel ?? "warn",
      ...(o.redisUrl ? { REDIS_URL: o.redisUrl, GMNET_KEY_PREFIX: o.keyPrefix ?? "bench" } : {}),
      ...o.extraEnv,
      ...sampling.env,
    };
    const child = spawn(
      "bash",
      raisedFdLimitCommand(o.fdLimit ?? 65536, [process.execPath, ...nodeArgs, CLI]),
      { env, stdio: ["ignore", logFd, logFd] },
    );
    closeSync(logFd);
    this.child = child;
    await until(
      async () => {
        if (!this.running) throw new Error(`node ${o.nodeId} exited (see ${RESULTS_DIR}logs)`);
        try {
          const response = await fetch(`${this.httpUrl}/readyz`);
          return response.status === 200;
        } catch {
          return false;
        }
      },
      20_000,
      `node ${o.nodeId} ready`,
      50,
    );
  }

  /**
   * SIGTERM (drain) or SIGKILL; resolves when the process is gone, with how
   * long that took and whether it had to be SIGKILLed after `timeoutMs`.
   */
  async stop(
    signal: NodeJS.Signals = "SIGTERM",
    timeoutMs = 15_000,
  ): Promise<{ exitMs: number; code: number | null; killedAfterTimeout: boolean }> {
    const child = this.child;
    if (!child) return { exitMs: 0, code: null, killedAfterTimeout: false };
    const startedMs = Date.now();
    const exited = exitOf(child);
    child.kill(signal);
    let killedAfterTimeout = false;
    const timer = setTimeout(() => {
      killedAfterTimeout = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    // Held until it is gone: a draining node still serves, and is still measured.
    if (this.child === child) this.child = null;
    return { exitMs: Date.now() - startedMs, code, killedAfterTimeout };
  }

  async restart(): Promise<void> {
    await this.stop("SIGTERM");
    await this.start();
  }

  async ready(): Promise<boolean> {
    try {
      return (await fetch(`${this.httpUrl}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }

  rssBytes(): number {
    return procRssBytes(this.pid);
  }

  cpuSeconds(): number {
    return procCpuSeconds(this.pid);
  }

  async metricsText(): Promise<string> {
    return (await fetch(`${this.httpUrl}/metrics`)).text();
  }

  /** Sum of a metric's samples whose label text contains `labelPart`. */
  async metric(name: string, labelPart = ""): Promise<number> {
    return sumMetric(await this.metricsText(), name, labelPart);
  }

  async adminServers(data1: string, offset: number, limit: number): Promise<AdminPage> {
    const url = `${this.httpUrl}/admin/servers?data1=${encodeURIComponent(data1)}&offset=${offset}&limit=${limit}`;
    return (await (await fetch(url)).json()) as AdminPage;
  }
}

export interface AdminPage {
  total: number;
  offset: number;
  servers: Array<{ ip: string; udpPort: number | null; ownerNodeId: string }>;
}

export function sumMetric(text: string, name: string, labelPart = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    if (labelPart && !rest.includes(labelPart)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

export function procRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based) of the full line.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function machineInfo(): Record<string, string | number> {
  let cpuModel = "";
  try {
    cpuModel =
      /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "";
  } catch {
    cpuModel = "";
  }
  const memKb = /MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? "0";
  return {
    cpus: (readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm) ?? []).length,
    cpuModel,
    memGiB: Math.round(Number(memKb) / 1024 / 1024),
    node: process.version,
  };
}

/** Cumulative bucket counts of a Prometheus histogram, summed over its other labels. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (!le) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return buckets;
}

/** The upper bucket bound (ms) under which `percentile` of the observations in (after - before) fall. */
export function bucketPercentileMs(
  before: Map<number, number>,
  after: Map<number, number>,
  percentile: number,
): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total =
    (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return null;
  for (const bound of bounds) {
    const count = (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
    if (count >= (total * percentile) / 100) return bound * 1000;
  }
  return null;
}
