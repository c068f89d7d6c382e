// The open internet against a Redis-backed node (issue 9, cases 6, 7 and 12):
// what a lobby query, a spoofed UDP flood and the lease refresh may cost
// Redis, measured on a redis-server of the test's own (so INFO's counters
// are this test's alone).
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  metricTotal,
  RawTcp,
  registerRawServer,
  Resources,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";
import { describeWith } from "../helpers/prerequisites.js";
import { OwnedRedisServer, redisServerBinary, uniquePrefix } from "../helpers/redis.js";
import { tcpLobby2, UDP_CONNECT } from "../helpers/wire.js";

const res = new Resources();
let redis: OwnedRedisServer;
let prefix: string;

beforeEach(async () => {
  redis = await OwnedRedisServer.start();
  prefix = uniquePrefix();
});
afterEach(async () => {
  await res.closeAll();
  await redis.stop();
});

function node(config: Record<string, unknown> = {}): Promise<TestMaster> {
  return res.master({
    env: { REDIS_URL: redis.url, GMNET_KEY_PREFIX: prefix },
    config,
  });
}

/** A Redis INFO counter (e.g. total_net_output_bytes, or "calls:evalsha"), from its section only. */
async function info(field: string): Promise<number> {
  const client = redis.client();
  try {
    const text = await client.info(field.startsWith("calls:") ? "commandstats" : "stats");
    const stat = /^cmdstat_(\w+):calls=(\d+)/m;
    if (field.startsWith("calls:")) {
      for (const line of text.split("\r\n")) {
        const match = stat.exec(line);
        if (match && match[1] === field.slice(6)) return Number(match[2]);
      }
      return 0;
    }
    const match = new RegExp(`^${field}:(\\d+)`, "m").exec(text);
    return match ? Number(match[1]) : 0;
  } finally {
    client.disconnect();
  }
}

async function lobbyReply(master: TestMaster, ip: string, request: Buffer): Promise<Buffer> {
  const socket = res.add(await RawTcp.connect(master.gamePort, ip), (t) => t.close());
  socket.send(request);
  await socket.waitForClose();
  return socket.received;
}

describeWith(redisServerBinary, "hostile input against Redis", () => {
  it("a lobby2 costs Redis bounded work whatever the sort, and identical ones share one query (case 6)", async () => {
    const master = await node({ lobbyRatePerSource: 0 });
    // 500 servers with every data field full.
    for (let i = 0; i < 500; i++) {
      await master.node.backend.registry.registerServer({
        ip: `10.0.${i >> 8}.${i & 255}`,
        version: "1.2.4",
        data: Array.from({ length: 8 }, (_, d) => `${d}${"x".repeat(63)}`),
        ownerNodeId: "elsewhere",
        ownerConnectionId: `c${i}`,
      });
    }
    const client = redis.client();
    await client.config("RESETSTAT");
    client.disconnect();
    const outputBefore = await info("total_net_output_bytes");
    // Sorted by data2, limit 1: the script sorts what it scanned and returns one entry.
    const byData2 = tcpLobby2([], "data2", "ASC", "1");
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => lobbyReply(master, `127.0.11.${i + 1}`, byData2)),
    );
    expect(replies.every((reply) => reply.equals(replies[0] as Buffer))).toBe(true);
    const outputBytes = (await info("total_net_output_bytes")) - outputBefore;
    expect(await info("calls:evalsha")).toBe(1); // 50 identical lobby2: one store query
    expect(outputBytes).toBeLessThan(8_000); // one entry and INFO replies, not 500 entries (~350 KB)
    // The whole lobby, unsorted by date: bounded by the reply a game can read.
    const all = await lobbyReply(master, "127.0.11.99", tcpLobby2([], "data3", "DESC"));
    expect(all.length).toBeLessThanOrEqual(1200);
  });

  it("a spoofed UDP flood from thousands of sources makes at most the node's budget of Redis keys (case 7)", async () => {
    const master = await node({ udpStoreRate: 50, udpRatePerEndpoint: 0 });
    const startedAt = Date.now();
    const sources = 2_000;
    for (let i = 0; i < sources; i++) {
      const udp = await res.udp(`127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      await udp.send(UDP_CONNECT, master.gamePort);
      await udp.close();
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const metrics = master.node.metrics;
    await waitFor(
      async () => (await metricTotal(metrics.udpDatagrams, { command: "connect" })) === sources,
      5_000,
      "every datagram seen",
    );
    const client = redis.client();
    const keys = (await client.keys(`{${prefix}}:client:*`)).length;
    client.disconnect();
    // A burst of twice the rate, then the rate: whatever the number of sources.
    const bound = 2 * 50 + Math.ceil(seconds + 1) * 50;
    expect(keys).toBeLessThanOrEqual(bound);
    expect(await metricTotal(metrics.badInput, { reason: "udp_store_budget" })).toBe(
      sources - keys,
    );
  });

  it("the lease refresh sends each server's ip and connection, never its lobby data again (case 12)", async () => {
    const master = await node({ leaseMs: 600_000 });
    const data = Array.from({ length: 8 }, (_, d) => `${d}${"y".repeat(63)}`);
    for (let i = 0; i < 100; i++)
      await registerRawServer(res, master, `127.0.12.${i + 1}`, { version: "1.2.4", data });
    const inputBefore = await info("total_net_input_bytes");
    await master.node.refresh();
    const inputBytes = (await info("total_net_input_bytes")) - inputBefore;
    // Before: ~8 × 64 bytes of data per server each refresh (51 KB here); now a few dozen.
    expect(inputBytes).toBeLessThan(100 * 64);
  });
});
