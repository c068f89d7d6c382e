// Three nodes' worth of the real Redis backend (RedisBackend.start: registry,
// bus, node directory, scripts preloaded, channel subscribed) in this process,
// on one redis-server, with nothing else running: no sockets, heartbeat or
// refresh timers. Each registry call is then exactly what a node sends to
// Redis for that step, so Redis' counters can be read per operation.
import pino from "pino";
import { BadInputLog } from "../../src/bad-input-log.js";
import { RedisBackend } from "../../src/cluster/redis/redis-backend.js";
import { storeTimings, type StoreTimings } from "../../src/cluster/timing.js";
import type { NodeMessage, RegisterServerInput } from "../../src/cluster/types.js";
import { MasterMetrics } from "../../src/metrics.js";
import { ipFor } from "./ips.js";

/** Node ids as long as the Helm chart's (the pod name): they are stored with every server. */
export const NODE_IDS = [
  "gmnet-master-6d4f9b7c85-ab1cd",
  "gmnet-master-6d4f9b7c85-ef2gh",
  "gmnet-master-6d4f9b7c85-ij3kl",
] as const;

/**
 * The defaults of src/config/options.ts, except the lease: 10 minutes, so no
 * registration expires during a run (the lease only sets TTLs and when the
 * refresh prunes; it does not change what a step does).
 */
export const BENCH_TIMINGS: StoreTimings = storeTimings({
  serverUdpBindWindowMs: 10_000,
  clientUdpTtlMs: 10_000,
  leaseMs: 600_000,
  replyGapMs: 100,
  serverReplyBacklog: 20,
  maxTrackedSources: 100_000,
  handoverLeadMs: 2_000,
});

export interface StoreNode {
  nodeId: string;
  backend: RedisBackend;
  /** Bus messages (peer-found, superseded) this node received. */
  received: NodeMessage[];
}

export async function startStoreNodes(
  redisUrl: string,
  keyPrefix = "gmnet",
  timings: StoreTimings = BENCH_TIMINGS,
): Promise<StoreNode[]> {
  const nodes: StoreNode[] = [];
  for (const nodeId of NODE_IDS) {
    const metrics = new MasterMetrics({ processMetrics: false });
    const logger = pino({ level: "silent" });
    const backend = await RedisBackend.start(
      { target: { kind: "url", url: redisUrl, password: null }, keyPrefix, nodeId, timings },
      metrics,
      logger,
      new BadInputLog(metrics, logger),
    );
    const node: StoreNode = { nodeId, backend, received: [] };
    backend.bus.onMessage((message) => node.received.push(message));
    nodes.push(node);
  }
  return nodes;
}

export async function stopStoreNodes(nodes: readonly StoreNode[]): Promise<void> {
  for (const node of nodes) await node.backend.close();
}

const GAMES = 10;

/**
 * A registration with typical lobby data: data1 the game (one of ten, so each
 * data1 index holds a tenth), data2 a room name, data3/data4 players and
 * slots, data5 a region; data6..data8 empty (not stored).
 */
export function serverInput(index: number, ownerNodeId: string): RegisterServerInput {
  return {
    ip: ipFor("server", index),
    version: "1.2.5",
    data: [`game${index % GAMES}`, `Room ${index}`, String(index % 8), "8", "eu-west", "", "", ""],
    ownerNodeId,
    // As a node makes them: 8 base64url characters of boot id, a dot, a base36 sequence.
    ownerConnectionId: `Qx7_k2Lm.${(index + 1).toString(36)}`,
  };
}

export const gameName = (index: number) => `game${index % GAMES}`;

/** Runs `work(i)` for i in [0, count) with at most `inFlight` at once. */
export async function drive(
  count: number,
  inFlight: number,
  work: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, count)) }, lane));
}
