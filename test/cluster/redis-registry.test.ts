// The Redis registry keeps the same promises as the memory one (the shared
// contract, in real time with short windows: Redis' own clock drives its
// scripts), plus what only a shared store can show: a connect waiting on one
// node handed the UDP port that landed on another, even when the wake-up
// message is lost.
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BadInputLog } from "../../src/bad-input-log.js";
import { RedisKeys } from "../../src/cluster/redis/keys.js";
import { RedisBackend } from "../../src/cluster/redis/redis-backend.js";
import type { RegisterServerInput } from "../../src/cluster/types.js";
import { MasterMetrics } from "../../src/metrics.js";
import { CONTRACT_TIMINGS, describeRegistryContract } from "../contract/registry-contract.js";
import { Resources } from "../helpers/master.js";
import { type RedisForTests, sharedRedis, uniquePrefix } from "../helpers/redis.js";

let redis: RedisForTests;
const res = new Resources();

beforeAll(async () => {
  redis = await sharedRedis();
});
afterAll(async () => {
  await redis?.close();
});
afterEach(async () => {
  await res.closeAll();
});

async function backend(
  nodeId = "node-a",
  prefix = uniquePrefix(),
  timings = CONTRACT_TIMINGS,
): Promise<RedisBackend> {
  const metrics = new MasterMetrics({ processMetrics: false });
  const logger = pino({ level: "silent" });
  const started = await RedisBackend.start(
    {
      target: { kind: "url", url: redis.url, password: null },
      keyPrefix: prefix,
      nodeId,
      timings,
    },
    metrics,
    logger,
    new BadInputLog(metrics, logger),
  );
  return res.add(started, (b) => b.close());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeRegistryContract("RedisRegistry", {
  registry: async (nodeId, shared) => (await backend(nodeId, shared)).registry,
  advance: async (ms) => {
    await sleep(ms);
  },
});

function input(ip: string, connection: string): RegisterServerInput {
  return {
    ip,
    version: "1.2.4",
    data: Array(8).fill(""),
    ownerNodeId: "node-a",
    ownerConnectionId: connection,
  };
}

describe("RedisRegistry across nodes", () => {
  /** Two nodes on one store; a connect (server 10.0.0.1 on node a, client 10.0.0.9) waiting on a. */
  async function waiterOnNodeA() {
    const prefix = uniquePrefix();
    const a = await backend("node-a", prefix);
    const b = await backend("node-b", prefix);
    await a.registry.recordServerUdp("10.0.0.1", 6510);
    await a.registry.registerServer(input("10.0.0.1", "c1"));
    const lookup = await a.registry.beginConnect("10.0.0.1", "10.0.0.9");
    if (lookup.status !== "waiting") throw new Error(`expected waiting, got ${lookup.status}`);
    return { a, b, lookup };
  }

  it("hands a UDP connect landing on another node to the connect waiting on this one, woken, not polled", async () => {
    const { b, lookup } = await waiterOnNodeA();
    const waiting = lookup.awaitClientUdp(5_000);
    const startedAt = Date.now();
    await b.registry.recordClientUdp("10.0.0.9", 5003);
    expect(await waiting).toBe(5003);
    expect(Date.now() - startedAt).toBeLessThan(2_000); // woken, not the 5 s time-out
  });

  /** The same, its wake-up certain to be lost. */
  async function waiterWithLostWakeup() {
    const { a, b, lookup } = await waiterOnNodeA();
    await a.bus.close(); // node-a no longer hears its channel: the wake-up is lost
    return { b, lookup };
  }

  it("a port handed to a waiter whose wake-up was lost is claimed when it times out: none is lost", async () => {
    const { b, lookup } = await waiterWithLostWakeup();
    await b.registry.recordClientUdp("10.0.0.9", 5004);
    expect(await lookup.awaitClientUdp(300)).toBe(5004);
    // Taken once: nothing is left behind for another connect.
    await sleep(CONTRACT_TIMINGS.replyGapMs * 3);
    const next = await b.registry.beginConnect("10.0.0.1", "10.0.0.9");
    expect(next.status).toBe("waiting");
    if (next.status === "waiting") expect(await next.awaitClientUdp(10)).toBeNull();
  });

  it("a waiter whose wake-up was lost still learns the server got busy before its UDP connect came", async () => {
    const { b, lookup } = await waiterWithLostWakeup();
    let status = "ready";
    for (let i = 0; status === "ready" && i < 6; i++) {
      await b.registry.recordClientUdp(`10.0.6.${i}`, 5700 + i);
      status = (await b.registry.beginConnect("10.0.0.1", `10.0.6.${i}`)).status;
    }
    expect(status).toBe("busy");
    await b.registry.recordClientUdp("10.0.0.9", 5801);
    expect(await lookup.awaitClientUdp(300)).toBe("busy");
  });

  it("a hand-over started on one node is completed by a registration on another", async () => {
    const prefix = uniquePrefix();
    const a = await backend("node-a", prefix);
    const b = await backend("node-b", prefix);
    await a.registry.recordServerUdp("10.0.0.1", 6510);
    await a.registry.registerServer(input("10.0.0.1", "old"));
    await a.registry.markHandover("10.0.0.1", "old");
    const lookup = await a.registry.beginConnect("10.0.0.1", "10.0.0.9");
    if (lookup.status !== "handover") throw new Error(`expected handover, got ${lookup.status}`);
    const woken = lookup.awaitRegistration(5_000);
    const startedAt = Date.now();
    await b.registry.registerServer({ ...input("10.0.0.1", "new"), ownerNodeId: "node-b" });
    expect(await woken).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });

  it("registrations a node stops refreshing expire after its lease, pruned by another node's refresh", async () => {
    const prefix = uniquePrefix();
    const short = { ...CONTRACT_TIMINGS, leaseMs: 1_000 };
    const a = await backend("node-a", prefix, short);
    await a.registry.registerServer(input("10.0.0.1", "c1"));
    await a.registry.registerServer({ ...input("10.0.0.3", "c3"), ownerNodeId: "node-b" });
    // node-b never refreshes: after a lease its registration is pruned by node-a's refresh.
    await sleep(short.leaseMs + 200);
    await a.registry.refreshOwned([{ ip: "10.0.0.1", ownerConnectionId: "c1" }]);
    expect(await a.registry.findServer("10.0.0.3")).toBeNull();
    expect(await a.registry.findServer("10.0.0.1")).not.toBeNull();
  });
});

describe("RedisNodeDirectory", () => {
  it("a heartbeat forgets nodes that died without leaving: their details go with their heartbeat", async () => {
    const prefix = uniquePrefix();
    const a = await backend("node-a", prefix, { ...CONTRACT_TIMINGS, leaseMs: 1_000 });
    const longAgo = Date.now() - 60_000;
    for (const nodeId of ["dead-1", "dead-2", "dead-3"])
      await a.nodes.heartbeat({ nodeId, startedAtMs: longAgo, lastSeenMs: longAgo, servers: 0 });
    const now = Date.now();
    await a.nodes.heartbeat({ nodeId: "node-a", startedAtMs: now, lastSeenMs: now, servers: 0 });
    const keys = new RedisKeys(prefix);
    const client = res.add(new Redis(redis.url), (c) => c.quit());
    expect(await client.zrange(keys.nodes, "0", "-1")).toEqual(["node-a"]);
    expect(await client.hkeys(keys.nodeInfo)).toEqual(["node-a"]);
    expect((await a.nodes.list()).map((node) => node.nodeId)).toEqual(["node-a"]);
  });
});
