// A few-seconds run of the rediscpu scenario (bench/scenarios/rediscpu.ts):
// every step did what it measures (right outcomes, right ports), and the
// command counts per operation are the design's: one EVALSHA per step, and a
// cross-node TCP connect is one EVALSHA plus one PUBLISH in either order, on
// the backend and on three real nodes. Counts only, never durations.
import { OWNED_BATCH } from "../../src/cluster/redis/redis-registry.js";
import { expect } from "vitest";
import { measureRedisCpu, type Row } from "../../bench/scenarios/rediscpu.js";
import { itWith } from "../helpers/prerequisites.js";
import { redisServerBinary } from "../helpers/redis.js";

const row = (rows: readonly Row[], prefix: string, inFlight = 1): Row => {
  const found = rows.find((r) => r.operation.startsWith(prefix) && r.inFlight === inFlight);
  if (!found) throw new Error(`no row ${prefix} at ${inFlight} in flight`);
  return found;
};

itWith(
  redisServerBinary,
  "rediscpu measures each step in isolation; a cross-node TCP connect is one EVALSHA + one PUBLISH, also when it overtakes the UDP connect",
  async () => {
    const result = await measureRedisCpu({
      sizes: [40, 120],
      operations: 60,
      lobbyQueries: 3,
      refreshRounds: 1,
      heartbeats: 5,
      inFlight: [1, 8],
      confirmConnects: 10,
      realNodes: true,
    });
    expect(result.problems).toEqual([]);
    const { rows } = result;
    for (const inFlight of [1, 8]) {
      for (const step of [
        "client UDP `connect` record (kept)",
        "TCP connect: begin-connect, UDP first",
        "TCP connect: begin-connect, TCP first",
        "client UDP `connect` handed",
      ])
        expect(row(rows, step, inFlight).evalsha).toBe(1);
      expect(row(rows, "routed PUBLISH", inFlight).calls).toEqual({ publish: 1 });
      // The hand-over wakes the queued connect from inside the UDP step's script.
      expect(row(rows, "client UDP `connect` handed", inFlight).calls.publish).toBe(1);
    }
    expect(row(rows, "registration", 1).evalsha).toBe(1);
    // One refresh script per batch of owned servers.
    const scripts = Math.ceil(120 / OWNED_BATCH);
    expect(row(rows, "lease refresh", 1).evalsha).toBeCloseTo(scripts / 120, 3);
    expect(row(rows, "node heartbeat", 1).calls).toMatchObject({ evalsha: 1 });
    expect(rows.filter((r) => r.operation.startsWith("lobby"))).toHaveLength(10);
    // Each queued connect leaves its handed-port key behind until the client UDP TTL.
    expect(result.handedKeysPerOvertake).toBe(1);
    expect(result.memory.map((m) => m.servers)).toEqual([40, 120]);

    for (const count of result.connectCounts) {
      expect(count.network).toEqual({
        "evalsha record-client-udp": 1,
        "evalsha begin-connect": 1,
        publish: 1,
      });
      expect(count.queued).toBe(count.order === "tcp-first" ? count.connects : 0);
      expect(count.insideScripts.publish ?? 0).toBe(count.order === "tcp-first" ? 1 : 0);
    }
    for (const order of result.nodes?.orders ?? []) {
      expect(order.right).toBe(order.connects);
      expect(order.network).toEqual({
        "evalsha record-client-udp": 1,
        "evalsha begin-connect": 1,
        publish: 1,
      });
    }
    expect(result.nodes?.orders).toHaveLength(2);
  },
  90_000,
);
