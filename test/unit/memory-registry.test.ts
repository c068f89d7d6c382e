import { afterEach, describe, expect, it } from "vitest";
import { MemoryRegistry } from "../../src/cluster/memory/memory-registry.js";
import { MAX_CLIENT_ENDPOINTS_PER_IP } from "../../src/cluster/timing.js";
import type { RegisterServerInput } from "../../src/cluster/types.js";
import type { LobbyQuery } from "../../src/protocol/index.js";

const TIMINGS = { serverUdpBindWindowMs: 1_000, clientUdpTtlMs: 5_000, leaseMs: 15_000 };
const NO_DATA = Array(8).fill("");

let clock = 1_700_000_000_000;
const registries: MemoryRegistry[] = [];

function makeRegistry(): MemoryRegistry {
  clock = 1_700_000_000_000;
  const registry = new MemoryRegistry(TIMINGS, () => clock);
  registries.push(registry);
  return registry;
}

function input(ip: string, connection: string, data: string[] = NO_DATA): RegisterServerInput {
  return { ip, version: "1.2.5", data, ownerNodeId: "node-a", ownerConnectionId: connection };
}

afterEach(async () => {
  for (const registry of registries.splice(0)) await registry.close();
});

describe("MemoryRegistry: server registration", () => {
  it("a UDP reg just before the TCP registration binds the server's UDP port", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 6510);
    clock += 900;
    const { registration, replaced } = await registry.registerServer(input("10.0.0.1", "c1"));
    expect(registration).toMatchObject({ ip: "10.0.0.1", udpPort: 6510, version: "1.2.5" });
    expect(registration.createdTimeSec).toBe(Math.floor(clock / 1000));
    expect(replaced).toBeNull();
  });

  it("a UDP reg older than the bind window does not bind", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 6510);
    clock += 1_001;
    const { registration } = await registry.registerServer(input("10.0.0.1", "c1"));
    expect(registration.udpPort).toBeNull();
  });

  it("a UDP reg arriving after the TCP registration binds within the window (late UDP reg)", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 500;
    await registry.recordServerUdp("10.0.0.1", 7000);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(7000);
  });

  it("a UDP reg after the window does not bind a registration still without a port", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 1_500;
    await registry.recordServerUdp("10.0.0.1", 7000);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBeNull();
  });

  it("a lone (spoofable) UDP reg does not redirect a registered server", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 6510);
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 100;
    await registry.recordServerUdp("10.0.0.1", 6666);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(6510);
  });

  it("a re-registration replaces the older one, reports it, and takes a fresh UDP port", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 6510);
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 60_000;
    await registry.recordServerUdp("10.0.0.1", 6520);
    const { registration, replaced } = await registry.registerServer(
      input("10.0.0.1", "c2", ["new", ...NO_DATA.slice(1)]),
    );
    expect(replaced).toEqual({ ownerNodeId: "node-a", ownerConnectionId: "c1" });
    expect(registration).toMatchObject({ udpPort: 6520, ownerConnectionId: "c2" });
    expect(registration.data[0]).toBe("new");
  });

  it("a re-registration without a fresh UDP reg keeps the known UDP port", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 6510);
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 60_000;
    const { registration } = await registry.registerServer(input("10.0.0.1", "c2"));
    expect(registration.udpPort).toBe(6510);
  });

  it("a UDP reg that arrives after its re-registration replaces the carried-over port", async () => {
    const registry = makeRegistry();
    await registry.recordServerUdp("10.0.0.1", 1111);
    await registry.registerServer(input("10.0.0.1", "c1"));
    clock += 5_000;
    // The NAT rebound: the new TCP reg overtakes its UDP reg and carries 1111 over...
    await registry.registerServer(input("10.0.0.1", "c2"));
    clock += 100;
    await registry.recordServerUdp("10.0.0.1", 2222);
    // ...until its own UDP reg arrives inside the window.
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
    // Once confirmed, a further lone UDP reg does not move it.
    await registry.recordServerUdp("10.0.0.1", 3333);
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
  });

  it("registering the same connection again reports no replaced owner", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    expect((await registry.registerServer(input("10.0.0.1", "c1"))).replaced).toBeNull();
  });

  it("a stale close does not remove a newer registration", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.registerServer(input("10.0.0.1", "c2"));
    expect(await registry.unregisterServer("10.0.0.1", "c1")).toBe(false);
    expect((await registry.findServer("10.0.0.1"))?.ownerConnectionId).toBe("c2");
    expect(await registry.unregisterServer("10.0.0.1", "c2")).toBe(true);
    expect(await registry.findServer("10.0.0.1")).toBeNull();
    expect(await registry.countServers()).toBe(0);
  });

  it("findServer returns a copy that callers cannot mutate into the store", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    const found = await registry.findServer("10.0.0.1");
    if (!found) throw new Error("not found");
    found.udpPort = 1;
    expect((await registry.findServer("10.0.0.1"))?.udpPort).toBeNull();
  });

  it("refreshOwned keeps, restores and reports superseded registrations", async () => {
    const registry = makeRegistry();
    const a = (await registry.registerServer(input("10.0.0.1", "a1"))).registration;
    const b = (await registry.registerServer(input("10.0.0.2", "b1"))).registration;
    await registry.registerServer(input("10.0.0.2", "b2"));
    const lost = { ...a, ip: "10.0.0.3", ownerConnectionId: "c1" };
    expect((await registry.refreshOwned([a, b, lost])).map((r) => r.outcome)).toEqual([
      "kept",
      "superseded",
      "restored",
    ]);
    expect((await registry.findServer("10.0.0.3"))?.ownerConnectionId).toBe("c1");
  });

  it("queryLobby filters, sorts and limits the registrations", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1", ["dm", ...NO_DATA.slice(1)]));
    clock += 2_000;
    await registry.registerServer(input("10.0.0.2", "c2", ["dm", ...NO_DATA.slice(1)]));
    clock += 2_000;
    await registry.registerServer(input("10.0.0.3", "c3", ["ctf", ...NO_DATA.slice(1)]));
    const query: LobbyQuery = {
      filters: ["dm", ...NO_DATA.slice(1)],
      sortBy: "date",
      sortDirection: "DESC",
      limit: null,
    };
    expect((await registry.queryLobby(query)).map((s) => s.ip)).toEqual(["10.0.0.2", "10.0.0.1"]);
    expect(
      (await registry.queryLobby({ ...query, limit: 1, sortDirection: "ASC" })).map((s) => s.ip),
    ).toEqual(["10.0.0.1"]);
  });
});

describe("MemoryRegistry: client UDP endpoints", () => {
  it("a connect claims the client's endpoint once (one use)", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.recordClientUdp("10.0.0.9", 5000);
    expect(await registry.beginConnect("10.0.0.1", "10.0.0.9")).toMatchObject({
      server: { ip: "10.0.0.1" },
      clientUdpPort: 5000,
    });
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBeNull();
  });

  it("a connect to an unknown server claims nothing", async () => {
    const registry = makeRegistry();
    await registry.recordClientUdp("10.0.0.9", 5000);
    expect(await registry.beginConnect("10.0.0.1", "10.0.0.9")).toEqual({
      server: null,
      clientUdpPort: null,
    });
    await registry.registerServer(input("10.0.0.1", "c1"));
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBe(5000);
  });

  it("several clients behind one IP are taken oldest first, each once", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.recordClientUdp("10.0.0.9", 5001);
    clock += 1;
    await registry.recordClientUdp("10.0.0.9", 5002);
    clock += 1;
    await registry.recordClientUdp("10.0.0.9", 5003);
    const claimed: Array<number | null> = [];
    for (let i = 0; i < 4; i++)
      claimed.push((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort);
    expect(claimed).toEqual([5001, 5002, 5003, null]);
  });

  it("a resent UDP connect from the same port is one client, not two", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.recordClientUdp("10.0.0.9", 5001);
    await registry.recordClientUdp("10.0.0.9", 5001);
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBe(5001);
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBeNull();
  });

  it("client endpoints expire after their TTL", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    await registry.recordClientUdp("10.0.0.9", 5001);
    clock += TIMINGS.clientUdpTtlMs + 1;
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBeNull();
  });

  it("a flood of endpoints from one IP keeps only the newest ones", async () => {
    const registry = makeRegistry();
    await registry.registerServer(input("10.0.0.1", "c1"));
    for (let port = 1; port <= MAX_CLIENT_ENDPOINTS_PER_IP + 10; port++)
      await registry.recordClientUdp("10.0.0.9", port);
    expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).clientUdpPort).toBe(11);
  });

  it("awaitClientUdp returns an endpoint already recorded at once", async () => {
    const registry = makeRegistry();
    await registry.recordClientUdp("10.0.0.9", 5001);
    expect(await registry.awaitClientUdp("10.0.0.9", 10_000)).toBe(5001);
  });

  it("awaitClientUdp wakes when the client's UDP connect is recorded", async () => {
    const registry = makeRegistry();
    const waiting = registry.awaitClientUdp("10.0.0.9", 10_000);
    await registry.recordClientUdp("10.0.0.8", 4000); // another IP does not wake it
    await registry.recordClientUdp("10.0.0.9", 5001);
    expect(await waiting).toBe(5001);
    // Handed straight to the waiter: nothing left to claim.
    expect(await registry.awaitClientUdp("10.0.0.9", 1)).toBeNull();
    expect(await registry.awaitClientUdp("10.0.0.8", 1)).toBe(4000);
  });

  it("two waiters behind one IP each get their own endpoint, in arrival order", async () => {
    const registry = makeRegistry();
    const first = registry.awaitClientUdp("10.0.0.9", 10_000);
    const second = registry.awaitClientUdp("10.0.0.9", 10_000);
    await registry.recordClientUdp("10.0.0.9", 5001);
    await registry.recordClientUdp("10.0.0.9", 5002);
    expect(await Promise.all([first, second])).toEqual([5001, 5002]);
  });

  it("awaitClientUdp times out to null, and a later UDP connect stays claimable", async () => {
    const registry = makeRegistry();
    expect(await registry.awaitClientUdp("10.0.0.9", 20)).toBeNull();
    await registry.recordClientUdp("10.0.0.9", 5001);
    expect(await registry.awaitClientUdp("10.0.0.9", 20)).toBe(5001);
  });

  it("close releases pending waiters with null", async () => {
    const registry = makeRegistry();
    const waiting = registry.awaitClientUdp("10.0.0.9", 60_000);
    await registry.close();
    expect(await waiting).toBeNull();
  });
});
