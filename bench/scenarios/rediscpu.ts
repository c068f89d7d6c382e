// rediscpu: Redis CPU per operation type, each in isolation, through the real
// backend (RedisRegistry, RedisBus, RedisNodeDirectory) against a redis-server
// started for the run, so its INFO counters are the run's alone. Per
// operation: Redis process CPU (INFO cpu), execution time and calls per
// command (INFO commandstats); per registered server: used_memory and keys.
import type { Redis } from "ioredis";
import type { HandedClientUdp } from "../../src/cluster/types.js";
import type { LobbyQuery, LobbySortKey } from "../../src/protocol/index.js";
import { ipFor } from "../lib/ips.js";
import { BenchRedis, sleep, until } from "../lib/procs.js";
import {
  addDelta,
  diff,
  emptyDelta,
  type PerOperation,
  perOperation,
  type RedisDelta,
  type RedisSnapshot,
  scriptOf,
  snapshot,
} from "../lib/redis-stats.js";
import {
  drive,
  gameName,
  serverInput,
  type StoreNode,
  startStoreNodes,
  stopStoreNodes,
} from "../lib/store-nodes.js";
import { confirmOnNodes, type NodesConfirmation } from "../lib/overtake-nodes.js";
import { type CapacityModel, capacityModel } from "../lib/capacity.js";
import type { CommonOptions } from "../run.js";

const log = (text: string) => process.stderr.write(`${text}\n`);

export interface RedisCpuOptions {
  /** Registered servers at which registration, memory and the lobby are measured (ascending). */
  sizes: number[];
  /** Operations per connect-path measurement (UDP records, begin-connects, PUBLISHes, ...). */
  operations: number;
  /** Queries per lobby variant and size. */
  lobbyQueries: number;
  /** Full lease refreshes of every server, at the largest size. */
  refreshRounds: number;
  heartbeats: number;
  /** Commands in flight at once: 1 = each pays its own read and write syscalls in Redis. */
  inFlight: number[];
  /** Cross-node connects per order (UDP first / TCP first) counted with MONITOR. */
  confirmConnects: number;
  /** Also confirm with three real nodes (`node dist/cli.js`) and raw game sockets. */
  realNodes: boolean;
}

export interface Row extends PerOperation {
  operation: string;
  inFlight: number;
  servers: number;
}

export interface MemoryPoint {
  servers: number;
  usedMemoryBytes: number;
  bytesPerServer: number;
  keysPerServer: number;
}

export interface ConnectCount {
  order: "udp-first" | "tcp-first";
  connects: number;
  /** Per connect: commands that arrived over the network, by script or command. */
  network: Record<string, number>;
  /** Per connect: commands scripts ran inside Redis. */
  insideScripts: Record<string, number>;
  /** Connects whose TCP step found no endpoint and queued (the UDP step then handed it over). */
  queued: number;
}

export interface RedisCpuResult {
  idleCpuUsPerSec: number;
  snapshotOverheadUs: number;
  rows: Row[];
  memory: MemoryPoint[];
  connectCounts: ConnectCount[];
  nodes: NodesConfirmation | null;
  handedKeysPerOvertake: number;
  capacity: CapacityModel;
  problems: string[];
}

const round = (value: number, places = 1) => Math.round(value * 10 ** places) / 10 ** places;

/** Measures one step, possibly over several windows (keeps each within its TTLs). */
class Meter {
  idleCpuUsPerSec = 0;
  overheadUs = 0;
  constructor(private readonly probe: Redis) {}

  snap(): Promise<RedisSnapshot> {
    return snapshot(this.probe);
  }

  /** Runs `work` between two snapshots; returns the delta with the snapshots' own cost removed. */
  async window(work: () => Promise<unknown>): Promise<RedisDelta> {
    const before = await this.snap();
    await work();
    const delta = diff(before, await this.snap());
    return { ...delta, cpuUs: delta.cpuUs - this.overheadUs };
  }

  /** Idle CPU rate and one empty window's cost (INFO + DBSIZE themselves). */
  async calibrate(idleMs: number): Promise<void> {
    const before = await this.snap();
    await sleep(idleMs);
    const idle = diff(before, await this.snap());
    this.idleCpuUsPerSec = (idle.cpuUs * 1000) / idle.wallMs;
    const empties: number[] = [];
    for (let i = 0; i < 7; i++) {
      const d = await this.window(async () => undefined);
      empties.push(d.cpuUs - (this.idleCpuUsPerSec * d.wallMs) / 1000);
    }
    empties.sort((a, b) => a - b);
    this.overheadUs = Math.max(0, empties[3] ?? 0);
  }

  row(
    operation: string,
    inFlight: number,
    servers: number,
    delta: RedisDelta,
    operations: number,
    outer?: ReadonlySet<string>,
  ): Row {
    const per = perOperation(delta, operations, this.idleCpuUsPerSec, outer);
    const row = { operation, inFlight, servers, ...per };
    log(
      `  ${operation} [${inFlight} in flight, ${servers} servers]: ${row.cpuUs} µs CPU, ` +
        `${row.execUs} µs exec, ${JSON.stringify(row.calls)}`,
    );
    return row;
  }
}

const serverUdpPort = (i: number) => 20_000 + (i % 40_000);
const clientUdpPort = (i: number) => 30_000 + (i % 30_000);

interface LobbyVariant {
  name: string;
  query: (servers: number) => LobbyQuery;
}

const noFilters = () => Array<string>(8).fill("");
const oneGame = () => [gameName(0), ...Array<string>(7).fill("")];

const LOBBY_VARIANTS: LobbyVariant[] = [
  {
    name: "lobby: date DESC, limit 20",
    query: () => ({ filters: noFilters(), sortBy: "date", sortDirection: "DESC", limit: 20 }),
  },
  {
    name: "lobby: date DESC, limit 20, data1 filter",
    query: () => ({ filters: oneGame(), sortBy: "date", sortDirection: "DESC", limit: 20 }),
  },
  {
    name: "lobby: date DESC, no limit (1200-byte bound)",
    query: () => ({ filters: noFilters(), sortBy: "date", sortDirection: "DESC", limit: null }),
  },
  {
    name: "lobby: data2 ASC, limit 20 (scan 1000)",
    query: () => ({
      filters: noFilters(),
      sortBy: "data2" as LobbySortKey,
      sortDirection: "ASC",
      limit: 20,
    }),
  },
  {
    name: "lobby: data2 ASC, limit 20, data1 filter",
    query: () => ({
      filters: oneGame(),
      sortBy: "data2" as LobbySortKey,
      sortDirection: "ASC",
      limit: 20,
    }),
  },
];

const LOBBY_BOUNDS = { scanLimit: 1000, replyMaxBytes: 1200 };

export async function measureRedisCpu(options: RedisCpuOptions): Promise<RedisCpuResult> {
  const redis = await BenchRedis.start();
  const probe = redis.client();
  let nodes: StoreNode[] = [];
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok && problems.length < 20) problems.push(what);
  };
  try {
    nodes = await startStoreNodes(redis.url);
    const [a, b, c] = nodes as [StoreNode, StoreNode, StoreNode];
    const meter = new Meter(probe);
    await meter.calibrate(2_000);
    log(
      `rediscpu: redis-server ${redis.url}, idle ${round(meter.idleCpuUsPerSec)} µs/s, ` +
        `snapshot overhead ${round(meter.overheadUs)} µs`,
    );
    const rows: Row[] = [];
    const memory: MemoryPoint[] = [];
    const empty = await meter.snap();

    // Registration: UDP `reg` then TCP `reg2`, in chunks well inside the bind window.
    let registered = 0;
    const sizes = [...options.sizes].sort((x, y) => x - y);
    for (const [step, size] of sizes.entries()) {
      const inFlight = options.inFlight[Math.min(step, options.inFlight.length - 1)] ?? 1;
      let udpDelta = emptyDelta();
      let regDelta = emptyDelta();
      const count = size - registered;
      for (let from = registered; from < size; from += 1000) {
        const n = Math.min(1000, size - from);
        udpDelta = addDelta(
          udpDelta,
          await meter.window(() =>
            drive(n, inFlight, async (k) => {
              const i = from + k;
              const outcome = await a.backend.registry.recordServerUdp(
                ipFor("server", i),
                serverUdpPort(i),
              );
              expect(outcome === "pending", `server UDP reg ${i}: ${outcome}`);
            }),
          ),
        );
        regDelta = addDelta(
          regDelta,
          await meter.window(() =>
            drive(n, inFlight, async (k) => {
              const i = from + k;
              const result = await a.backend.registry.registerServer(serverInput(i, a.nodeId));
              expect(
                result.registration.udpPort === serverUdpPort(i),
                `reg2 ${i}: port ${result.registration.udpPort}`,
              );
            }),
          ),
        );
      }
      rows.push(meter.row("server UDP `reg` record", inFlight, size, udpDelta, count));
      rows.push(meter.row("registration (`reg2`, 5 data fields)", inFlight, size, regDelta, count));
      registered = size;
      const now = await meter.snap();
      const point: MemoryPoint = {
        servers: size,
        usedMemoryBytes: now.usedMemory,
        bytesPerServer: Math.round((now.usedMemory - empty.usedMemory) / size),
        keysPerServer: round((now.keys - empty.keys) / size, 3),
      };
      memory.push(point);
      log(
        `  memory at ${size} servers: ${point.bytesPerServer} B and ${point.keysPerServer} keys per server`,
      );
      expect((await a.backend.registry.countServers()) === size, `count after registering ${size}`);

      for (const variant of LOBBY_VARIANTS) {
        const query = variant.query(size);
        let returned = 0;
        const delta = await meter.window(async () => {
          for (let q = 0; q < options.lobbyQueries; q++) {
            const found = await c.backend.registry.queryLobby(query, LOBBY_BOUNDS);
            returned = found.length;
          }
        });
        const row = meter.row(variant.name, 1, size, delta, options.lobbyQueries);
        rows.push({ ...row, calls: { ...row.calls, returnedServers: returned } });
        expect(returned > 0, `${variant.name} at ${size}: nothing returned`);
      }
    }
    const servers = registered;

    // The connect path, per step, at each concurrency. Client IPs are fresh per step.
    let clientBase = 0;
    let handedKeys = 0;
    for (const inFlight of options.inFlight) {
      const k = options.operations;
      const base = clientBase;
      clientBase += 2 * k;
      const client = (i: number) => ipFor("client", base + i);
      const server = (i: number) => ipFor("server", (base + i) % servers);

      const udpKept = await meter.window(() =>
        drive(k, inFlight, (i) => b.backend.registry.recordClientUdp(client(i), clientUdpPort(i))),
      );
      rows.push(meter.row("client UDP `connect` record (kept)", inFlight, servers, udpKept, k));

      const beginReady = await meter.window(() =>
        drive(k, inFlight, async (i) => {
          const lookup = await c.backend.registry.beginConnect(server(i), client(i));
          expect(
            lookup.status === "ready" && lookup.clientUdpPort === clientUdpPort(i),
            `begin-connect ${i}: ${lookup.status}`,
          );
        }),
      );
      rows.push(
        meter.row("TCP connect: begin-connect, UDP first", inFlight, servers, beginReady, k),
      );

      const receivedBefore = a.received.length;
      const publish = await meter.window(() =>
        drive(k, inFlight, async (i) => {
          const delivered = await c.backend.bus.send(a.nodeId, {
            type: "peer-found",
            serverIp: server(i),
            ownerConnectionId: serverInput((base + i) % servers, a.nodeId).ownerConnectionId,
            clientIp: client(i),
            clientUdpPort: clientUdpPort(i),
          });
          expect(delivered, `peer-found ${i} had no receiver`);
        }),
      );
      rows.push(meter.row("routed PUBLISH (peer-found)", inFlight, servers, publish, k));
      await until(() => a.received.length - receivedBefore >= k, 10_000, "peer-found delivered");

      // TCP overtakes UDP: the connect queues, the UDP `connect` hands its port over.
      const late = (i: number) => client(k + i);
      const waits: Array<Promise<HandedClientUdp>> = [];
      const beginQueued = await meter.window(() =>
        drive(k, inFlight, async (i) => {
          const lookup = await c.backend.registry.beginConnect(server(i), late(i));
          expect(lookup.status === "waiting", `overtaking begin-connect ${i}: ${lookup.status}`);
          if (lookup.status === "waiting") waits[i] = lookup.awaitClientUdp(15_000);
        }),
      );
      rows.push(
        meter.row(
          "TCP connect: begin-connect, TCP first (queued)",
          inFlight,
          servers,
          beginQueued,
          k,
        ),
      );
      const handedBefore = await countKeys(probe, "{gmnet}:handed:*");
      const handed = await meter.window(() =>
        drive(k, inFlight, (i) => b.backend.registry.recordClientUdp(late(i), clientUdpPort(i))),
      );
      rows.push(
        meter.row(
          "client UDP `connect` handed to a queued connect",
          inFlight,
          servers,
          handed,
          k,
          new Set(["evalsha"]),
        ),
      );
      // The waiters wake by message: no further command (no cancel-wait, no second begin-connect).
      const afterWake = await meter.window(async () => {
        const ports = await Promise.all(waits);
        for (const [i, port] of ports.entries())
          expect(port === clientUdpPort(i), `queued connect ${i} got ${port}`);
      });
      const extra = [...afterWake.commands.values()].reduce((sum, s) => sum + s.calls, 0);
      expect(extra === 0, `${extra} commands while the queued connects woke`);
      handedKeys = ((await countKeys(probe, "{gmnet}:handed:*")) - handedBefore) / k;
    }

    // Lease refresh of every owned server (batches of 500), and the heartbeat.
    const refs = Array.from({ length: servers }, (_, i) => {
      const input = serverInput(i, a.nodeId);
      return { ip: input.ip, ownerConnectionId: input.ownerConnectionId };
    });
    const refresh = await meter.window(async () => {
      for (let r = 0; r < options.refreshRounds; r++) {
        const results = await a.backend.registry.refreshOwned(refs);
        const kept = results.filter((x) => x.outcome === "kept").length;
        expect(kept === servers, `refresh kept ${kept} of ${servers}`);
      }
    });
    rows.push(
      meter.row(
        "lease refresh, per owned server (batches of 500)",
        1,
        servers,
        refresh,
        servers * options.refreshRounds,
      ),
    );
    const heartbeat = await meter.window(async () => {
      for (let h = 0; h < options.heartbeats; h++)
        await a.backend.nodes.heartbeat({
          nodeId: a.nodeId,
          startedAtMs: Date.now() - 60_000,
          lastSeenMs: Date.now(),
          servers,
          ready: true,
          draining: false,
          drainDeadlineMs: null,
          storeUp: true,
        });
    });
    rows.push(meter.row("node heartbeat (one script)", 1, servers, heartbeat, options.heartbeats));

    const connectCounts = await countConnects(redis, nodes, options.confirmConnects, servers);
    const unregisterCount = Math.min(options.operations, Math.floor(servers / 2));
    const unregister = await meter.window(() =>
      drive(unregisterCount, 1, async (k) => {
        const input = serverInput(servers - 1 - k, a.nodeId);
        const removed = await a.backend.registry.unregisterServer(
          input.ip,
          input.ownerConnectionId,
        );
        expect(removed, `unregister ${input.ip}`);
      }),
    );
    rows.push(meter.row("unregister (socket closed)", 1, servers, unregister, unregisterCount));

    await stopStoreNodes(nodes);
    nodes = [];
    const nodesCheck = options.realNodes ? await confirmOnNodes(options.confirmConnects) : null;
    if (nodesCheck) problems.push(...nodesCheck.problems);
    return {
      idleCpuUsPerSec: round(meter.idleCpuUsPerSec),
      snapshotOverheadUs: round(meter.overheadUs),
      rows,
      memory,
      connectCounts,
      nodes: nodesCheck,
      handedKeysPerOvertake: round(handedKeys, 3),
      capacity: capacityModel(rows),
      problems,
    };
  } finally {
    await stopStoreNodes(nodes);
    probe.disconnect();
    await redis.kill();
  }
}

/** Keys matching `pattern` (SCAN, outside any measured window). */
async function countKeys(probe: Redis, pattern: string): Promise<number> {
  let cursor = "0";
  let count = 0;
  do {
    const [next, keys] = await probe.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== "0");
  return count;
}

/**
 * Full cross-node connects through the backend, as a node's connect path runs
 * them (node B records the UDP `connect`, node C begins the TCP connect and
 * PUBLISHes peer-found to node A), in both orders, counted with MONITOR:
 * network commands apart from what scripts run inside Redis.
 */
async function countConnects(
  redis: BenchRedis,
  nodes: StoreNode[],
  connects: number,
  servers: number,
): Promise<ConnectCount[]> {
  const [a, b, c] = nodes as [StoreNode, StoreNode, StoreNode];
  const monitor = await redis.client().monitor();
  const network = new Map<string, number>();
  const inside = new Map<string, number>();
  let counting = false;
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (!counting) return;
    const name = (args[0] ?? "").toLowerCase();
    if (name === "info" || name === "dbsize") return;
    if (source === "lua") inside.set(name, (inside.get(name) ?? 0) + 1);
    else {
      const key = name === "evalsha" ? scriptOf(args) : name;
      network.set(key, (network.get(key) ?? 0) + 1);
    }
  });
  const perConnect = (map: Map<string, number>) =>
    Object.fromEntries([...map].map(([name, n]) => [name, round(n / connects, 3)]));
  const results: ConnectCount[] = [];
  const base = 500_000;
  for (const order of ["udp-first", "tcp-first"] as const) {
    network.clear();
    inside.clear();
    let queued = 0;
    counting = true;
    for (let i = 0; i < connects; i++) {
      const n = base + (order === "udp-first" ? 0 : connects) + i;
      const clientIp = ipFor("client", n);
      const serverIndex = n % servers;
      const input = serverInput(serverIndex, a.nodeId);
      let port: HandedClientUdp = null;
      if (order === "udp-first") {
        await b.backend.registry.recordClientUdp(clientIp, clientUdpPort(n));
        const lookup = await c.backend.registry.beginConnect(input.ip, clientIp);
        if (lookup.status === "ready") port = lookup.clientUdpPort;
      } else {
        const lookup = await c.backend.registry.beginConnect(input.ip, clientIp);
        if (lookup.status === "waiting") {
          queued++;
          const waiting = lookup.awaitClientUdp(15_000);
          await b.backend.registry.recordClientUdp(clientIp, clientUdpPort(n));
          port = await waiting;
        }
      }
      if (port !== clientUdpPort(n)) throw new Error(`${order} connect ${i}: port ${port}`);
      const delivered = await c.backend.bus.send(a.nodeId, {
        type: "peer-found",
        serverIp: input.ip,
        ownerConnectionId: input.ownerConnectionId,
        clientIp,
        clientUdpPort: port,
      });
      if (!delivered) throw new Error(`${order} connect ${i}: peer-found had no receiver`);
    }
    await sleep(200);
    counting = false;
    const count: ConnectCount = {
      order,
      connects,
      network: perConnect(network),
      insideScripts: perConnect(inside),
      queued,
    };
    log(
      `  ${order}: ${connects} connects, network per connect ${JSON.stringify(count.network)}, ` +
        `inside scripts ${JSON.stringify(count.insideScripts)}, queued ${queued}`,
    );
    results.push(count);
  }
  monitor.disconnect();
  return results;
}

function table(result: RedisCpuResult): string {
  const lines = [
    "| operation | servers | in flight | Redis CPU µs/op | exec µs/op | EVALSHA/op | commands/op (incl. inside scripts) |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of result.rows) {
    const calls = Object.entries(r.calls)
      .filter(([name]) => name !== "returnedServers")
      .map(([name, n]) => `${name} ${n}`)
      .join(", ");
    const total = Object.entries(r.calls)
      .filter(([name]) => name !== "returnedServers")
      .reduce((sum, [, n]) => sum + n, 0);
    lines.push(
      `| ${r.operation} | ${r.servers} | ${r.inFlight} | ${r.cpuUs} | ${r.execUs} | ${r.evalsha} | ${round(total, 2)}: ${calls} |`,
    );
  }
  lines.push("");
  lines.push("| registered servers | used_memory | bytes per server | keys per server |");
  lines.push("|---|---|---|---|");
  for (const m of result.memory)
    lines.push(
      `| ${m.servers} | ${round(m.usedMemoryBytes / 1048576, 1)} MiB | ${m.bytesPerServer} | ${m.keysPerServer} |`,
    );
  return lines.join("\n");
}

export async function runRedisCpu(options: CommonOptions) {
  const result = await measureRedisCpu({
    sizes: options.counts,
    operations: 2_000,
    lobbyQueries: 200,
    refreshRounds: 3,
    heartbeats: 500,
    inFlight: [1, 32],
    confirmConnects: 200,
    realNodes: true,
  });
  log(table(result));
  log(result.capacity.text);
  const udpFirst = result.connectCounts.find((c) => c.order === "udp-first");
  const tcpFirst = result.connectCounts.find((c) => c.order === "tcp-first");
  const tcpSide = (c: ConnectCount | undefined) =>
    c
      ? `${(c.network["evalsha begin-connect"] ?? 0) + (c.network["evalsha cancel-wait"] ?? 0)} EVALSHA + ${c.network.publish ?? 0} PUBLISH`
      : "?";
  const summary =
    `rediscpu ${options.counts.join(",")} servers | TCP connect: UDP first ${tcpSide(udpFirst)}, ` +
    `TCP first ${tcpSide(tcpFirst)} | one Redis core at 70%: ${result.capacity.headline} | ` +
    `problems ${result.problems.length}`;
  for (const problem of result.problems) log(`problem: ${problem}`);
  return { summary, result, ok: result.problems.length === 0 };
}
