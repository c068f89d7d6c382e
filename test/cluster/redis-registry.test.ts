// The Redis registry keeps the same promises as the memory one (real time,
// short windows: Redis' own clock drives its scripts).
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisBackend } from "../../src/cluster/redis/redis-backend.js";
import type { RegisterServerInput, ServerRegistration } from "../../src/cluster/types.js";
import { MasterMetrics } from "../../src/metrics.js";
import { Resources } from "../helpers/master.js";
import { type RedisForTests, sharedRedis, uniquePrefix } from "../helpers/redis.js";

const TIMINGS = { serverUdpBindWindowMs: 400, clientUdpTtlMs: 600, leaseMs: 1_000 };
const NO_DATA = Array(8).fill("");
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

async function backend(nodeId = "node-a", prefix = uniquePrefix()): Promise<RedisBackend> {
  const started = await RedisBackend.start(
    {
      target: { kind: "url", url: redis.url, password: null },
      keyPrefix: prefix,
      nodeId,
      timings: TIMINGS,
    },
    new MasterMetrics({ processMetrics: false }),
    pino({ level: "silent" }),
  );
  return res.add(started, (b) => b.close());
}

function input(
  ip: string,
  connection: string,
  data: string[] = NO_DATA,
  node = "node-a",
): RegisterServerInput {
  return { ip, version: "1.2.4", data, ownerNodeId: node, ownerConnectionId: connection };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("RedisRegistry", () => {
  it("binds a UDP reg to the TCP registration that follows, and not after the window", async () => {
    const { registry } = await backend();
    await registry.recordServerUdp("10.0.0.1", 6510);
    expect((await registry.registerServer(input("10.0.0.1", "c1"))).registration.udpPort).toBe(
      6510,
    );
    await registry.recordServerUdp("10.0.0.2", 6511);
    await sleep(TIMINGS.serverUdpBindWindowMs + 100);
    expect(
      (await registry.registerServer(input("10.0.0.2", "c2"))).registration.udpPort,
    ).toBeNull();
  });

  it("binds a late UDP reg, lets it replace a carried-over port, then ignores lone ones", async () => {
    const { registry } = await backend();
    await registry.recordServerUdp("10.0.0.1", 1111);
    await registry.registerServer(input("10.0.0.1", "c1"));
    await sleep(TIMINGS.serverUdpBindWindowMs + 100);
    await registry.recordServerUdp("10.0.0.1", 9999); // lone, outside any window: ignored
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(1111);
    await sleep(TIMINGS.serverUdpBindWindowMs + 100); // the lone reg's candidacy lapses too
    await registry.registerServer(input("10.0.0.1", "c2")); // carries 1111 over...
    await registry.recordServerUdp("10.0.0.1", 2222); // ...until its own UDP reg lands
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
    await registry.recordServerUdp("10.0.0.1", 3333);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
  });

  it("reports the replaced owner, and a stale close removes nothing", async () => {
    const { registry } = await backend();
    await registry.registerServer(input("10.0.0.1", "old", NO_DATA, "node-a"));
    const { replaced } = await registry.registerServer(input("10.0.0.1", "new", NO_DATA, "node-b"));
    expect(replaced).toEqual({ ownerNodeId: "node-a", ownerConnectionId: "old" });
    expect(await registry.unregisterServer("10.0.0.1", "old")).toBe(false);
    expect((await registry.findServer("10.0.0.1"))?.ownerConnectionId).toBe("new");
    expect(await registry.unregisterServer("10.0.0.1", "new")).toBe(true);
    expect(await registry.findServer("10.0.0.1")).toBeNull();
    expect(await registry.countServers()).toBe(0);
  });

  it("hands several clients behind one IP their endpoints oldest first, once each, deduplicating resends", async () => {
    const { registry } = await backend();
    await registry.recordServerUdp("10.0.0.1", 6510);
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.recordClientUdp("10.0.0.9", 5001);
    await registry.recordClientUdp("10.0.0.9", 5002);
    await registry.recordClientUdp("10.0.0.9", 5001); // resent: same client, moves to the back
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBe(5002);
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBe(5001);
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBeNull();
  });

  it("claims nothing for an unknown server, and lets client endpoints expire", async () => {
    const { registry } = await backend();
    await registry.recordClientUdp("10.0.0.9", 5001);
    expect(await registry.beginConnect("10.0.0.1", "10.0.0.9")).toEqual({
      server: null,
      clientUdpPort: null,
    });
    await sleep(TIMINGS.clientUdpTtlMs + 100);
    expect(await registry.awaitClientUdp("10.0.0.9", 0)).toBeNull();
  });

  it("wakes a waiting connect on another node when the UDP connect lands, and times out to null", async () => {
    const prefix = uniquePrefix();
    const a = await backend("node-a", prefix);
    const b = await backend("node-b", prefix);
    const waiting = a.registry.awaitClientUdp("10.0.0.9", 5_000);
    await sleep(50);
    const startedAt = Date.now();
    await b.registry.recordClientUdp("10.0.0.9", 5003);
    expect(await waiting).toBe(5003);
    expect(Date.now() - startedAt).toBeLessThan(2_000); // woken, not the 5 s time-out
    expect(await a.registry.awaitClientUdp("10.0.0.8", 200)).toBeNull();
  });

  it("answers the lobby with filters, sort and limit", async () => {
    const { registry } = await backend();
    await registry.registerServer(input("10.0.0.1", "c1", ["Game", "b", "", "", "", "", "", ""]));
    await registry.registerServer(input("10.0.0.2", "c2", ["Game", "a", "", "", "", "", "", ""]));
    await registry.registerServer(input("10.0.0.3", "c3", ["Other", "c", "", "", "", "", "", ""]));
    const ips = (rows: ServerRegistration[]) => rows.map((row) => row.ip);
    const query = {
      filters: ["Game"],
      sortBy: "data2" as const,
      sortDirection: "ASC" as const,
      limit: null,
    };
    expect(ips(await registry.queryLobby(query))).toEqual(["10.0.0.2", "10.0.0.1"]);
    expect(ips(await registry.queryLobby({ ...query, limit: 1 }))).toEqual(["10.0.0.2"]);
    expect(ips(await registry.queryLobby({ ...query, filters: ["", "c"] }))).toEqual(["10.0.0.3"]);
    const all = await registry.queryLobby({
      filters: [],
      sortBy: "date",
      sortDirection: "DESC",
      limit: 2,
    });
    expect(all).toHaveLength(2);
  });

  it("refresh reports the UDP port a late UDP reg bound, so the owner's copy stays right", async () => {
    const { registry } = await backend();
    const registered = (await registry.registerServer(input("10.0.0.1", "c1"))).registration;
    expect(registered.udpPort).toBeNull();
    await registry.recordServerUdp("10.0.0.1", 4242);
    expect(await registry.refreshOwned([registered])).toEqual([{ outcome: "kept", udpPort: 4242 }]);
  });

  it("a registration restored after the store lost it keeps its port against a stray UDP reg", async () => {
    const { registry } = await backend();
    await registry.recordServerUdp("10.0.0.1", 50_000);
    const registered = (await registry.registerServer(input("10.0.0.1", "c1"))).registration;
    await registry.unregisterServer("10.0.0.1", "c1"); // as if Redis had lost it
    expect(await registry.refreshOwned([registered])).toEqual([
      { outcome: "restored", udpPort: 50_000 },
    ]);
    await registry.recordServerUdp("10.0.0.1", 6_666);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(50_000);
  });

  it("refresh keeps, restores and reports superseded registrations; unrefreshed ones expire", async () => {
    const prefix = uniquePrefix();
    const { registry } = await backend("node-a", prefix);
    const kept = (await registry.registerServer(input("10.0.0.1", "c1"))).registration;
    const lost = { ...kept, ip: "10.0.0.2", ownerConnectionId: "c2" };
    const taken = (await registry.registerServer(input("10.0.0.3", "c3"))).registration;
    await registry.registerServer(input("10.0.0.3", "newer", NO_DATA, "node-b"));
    expect(await registry.refreshOwned([kept, lost, taken])).toEqual([
      { outcome: "kept", udpPort: null },
      { outcome: "restored", udpPort: null },
      { outcome: "superseded", udpPort: null },
    ]);
    expect((await registry.findServer("10.0.0.2"))?.ownerConnectionId).toBe("c2");
    // node-b never refreshes: after a lease its registration is pruned by node-a's refresh.
    await sleep(TIMINGS.leaseMs + 200);
    await registry.refreshOwned([kept]);
    expect(await registry.findServer("10.0.0.3")).toBeNull();
    expect(await registry.findServer("10.0.0.1")).not.toBeNull();
  });
});
