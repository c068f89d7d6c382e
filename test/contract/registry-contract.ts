// The promises every Registry keeps, as one suite run against each backend
// (memory with a controlled clock, Redis in real time with short windows), as
// socket.io's adapter runs one suite per adapter.
import { describe, expect, it } from "vitest";
import type {
  ConnectLookup,
  RegisterServerInput,
  Registry,
  ServerRegistration,
} from "../../src/cluster/types.js";
import {
  MAX_CLIENT_ENDPOINTS_PER_IP,
  MAX_PENDING_SERVER_PORTS,
  type StoreTimings,
} from "../../src/cluster/timing.js";
import type { LobbyQuery } from "../../src/protocol/index.js";

/** Short windows: the Redis run waits them out in real time. */
export const CONTRACT_TIMINGS: StoreTimings = {
  serverUdpBindWindowMs: 400,
  clientUdpTtlMs: 600,
  clientUdpFreshMs: 200,
  leaseMs: 10_000,
  replyGapMs: 100,
  serverReplyBacklogMs: 200,
  maxTrackedSources: 100_000,
  /** Longer than the client UDP TTL: nothing of a hand-over may live only that long. */
  handoverWaitMs: 2_000,
};

export interface RegistryHarness {
  /** A fresh, empty store; `nodeId` names the node it serves (several may share one store). */
  registry(nodeId?: string, shared?: string): Promise<Registry>;
  /** Lets `ms` pass for the store (a clock for memory, real time for Redis). */
  advance(ms: number): Promise<void>;
}

const NO_DATA = Array(8).fill("");
const NO_BOUNDS = { scanLimit: 1_000, replyMaxBytes: null };

function input(
  ip: string,
  connection: string,
  data: string[] = NO_DATA,
  node = "node-a",
): RegisterServerInput {
  return { ip, version: "1.2.4", data, ownerNodeId: node, ownerConnectionId: connection };
}

function data(...values: string[]): string[] {
  return Array.from({ length: 8 }, (_, i) => values[i] ?? "");
}

/** The client port a lookup claimed at once (null when it has to wait). */
function claimed(lookup: ConnectLookup): number | null {
  return lookup.status === "ready" ? lookup.clientUdpPort : null;
}

async function registerWithUdp(registry: Registry, ip: string, port: number, connection = "c1") {
  await registry.recordServerUdp(ip, port);
  return (await registry.registerServer(input(ip, connection))).registration;
}

export function describeRegistryContract(name: string, harness: RegistryHarness): void {
  const { advance } = harness;
  const window = CONTRACT_TIMINGS.serverUdpBindWindowMs;

  describe(`${name}: registration`, () => {
    it("binds a UDP reg to the TCP registration that follows, and not after the window", async () => {
      const registry = await harness.registry();
      expect(await registry.recordServerUdp("10.0.0.1", 6510)).toBe("pending");
      expect((await registry.registerServer(input("10.0.0.1", "c1"))).registration.udpPort).toBe(
        6510,
      );
      await registry.recordServerUdp("10.0.0.2", 6511);
      await advance(window + 100);
      expect(
        (await registry.registerServer(input("10.0.0.2", "c2"))).registration.udpPort,
      ).toBeNull();
    });

    it("binds a late UDP reg, lets it replace a carried-over port, then ignores lone ones", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 1111);
      await advance(window + 100);
      await registry.recordServerUdp("10.0.0.1", 9999); // lone, outside any window: not bound
      expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(1111);
      await advance(window + 100); // the lone reg's candidacy lapses too
      await registry.registerServer(input("10.0.0.1", "c2")); // carries 1111 over...
      expect(await registry.recordServerUdp("10.0.0.1", 2222)).toBe("bound"); // ...until its own reg
      expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
      await registry.recordServerUdp("10.0.0.1", 3333);
      expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(2222);
    });

    it("reports the replaced owner, and a stale close removes nothing", async () => {
      const registry = await harness.registry();
      await registry.registerServer(input("10.0.0.1", "old", NO_DATA, "node-a"));
      const again = await registry.registerServer(input("10.0.0.1", "old", NO_DATA, "node-a"));
      expect(again.replaced).toBeNull(); // the same connection again replaces nobody
      const { replaced } = await registry.registerServer(
        input("10.0.0.1", "new", NO_DATA, "node-b"),
      );
      expect(replaced).toEqual({ ownerNodeId: "node-a", ownerConnectionId: "old" });
      expect(await registry.unregisterServer("10.0.0.1", "old")).toBe(false);
      expect((await registry.findServer("10.0.0.1"))?.ownerConnectionId).toBe("new");
      expect(await registry.unregisterServer("10.0.0.1", "new")).toBe(true);
      expect(await registry.findServer("10.0.0.1")).toBeNull();
      expect(await registry.countServers()).toBe(0);
    });

    it("findServer returns a copy that callers cannot mutate into the store", async () => {
      const registry = await harness.registry();
      await registry.registerServer(input("10.0.0.1", "c1", data("Game")));
      const found = (await registry.findServer("10.0.0.1")) as ServerRegistration;
      found.data[0] = "changed";
      found.udpPort = 1;
      expect(await registry.findServer("10.0.0.1")).toMatchObject({
        udpPort: null,
        data: data("Game"),
      });
    });

    it("a lone forged UDP reg cannot change an established server's port, even at its re-registration", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 5000);
      await advance(window + 100);
      // The forger sends first; the game's own reg (its known port) follows, then its reg2.
      expect(await registry.recordServerUdp("10.0.0.1", 6666)).toBe("pending");
      expect(await registry.recordServerUdp("10.0.0.1", 5000)).toBe("conflict");
      const result = await registry.registerServer(input("10.0.0.1", "c2"));
      expect(result.registration.udpPort).toBe(5000);
      expect(result.udpConflict).toBe(true);
    });

    it("forged ports sent after the game's own UDP reg cannot push its known port out of the pending ports", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 5000);
      await advance(window + 100);
      await registry.recordServerUdp("10.0.0.1", 5000); // the game's own, as it re-registers
      // More forged ports than the store remembers per IP, all newer than the real one.
      for (let forged = 6001; forged <= 6000 + MAX_PENDING_SERVER_PORTS + 2; forged++)
        expect(await registry.recordServerUdp("10.0.0.1", forged)).toBe("conflict");
      const result = await registry.registerServer(input("10.0.0.1", "c2"));
      expect(result).toMatchObject({ udpConflict: true, registration: { udpPort: 5000 } });
    });

    it("of several new ports the newest wins when the known one is not among them, flagged as a conflict", async () => {
      const registry = await harness.registry();
      await registry.recordServerUdp("10.0.0.1", 7001);
      await registry.recordServerUdp("10.0.0.1", 7002);
      const result = await registry.registerServer(input("10.0.0.1", "c1"));
      expect(result).toMatchObject({ udpConflict: true, registration: { udpPort: 7002 } });
    });
  });

  describe(`${name}: connect`, () => {
    it("claims the client's newest endpoint, once; a resent datagram is the same client", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      await registry.recordClientUdp("10.0.0.9", 5001);
      await registry.recordClientUdp("10.0.0.9", 5002);
      await registry.recordClientUdp("10.0.0.9", 5001); // resent: moves to the newest place
      // Three connects fit the server's backlog (gap 100 ms, backlog 200 ms) without waiting.
      const first = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(first).toMatchObject({
        status: "ready",
        clientUdpPort: 5001,
        server: { udpPort: 6510 },
      });
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9"))).toBe(5002);
      const none = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(none.status).toBe("waiting");
      if (none.status === "waiting") expect(await none.awaitClientUdp(10)).toBeNull();
    });

    it("answers not_found for an unknown server and claims nothing; endpoints expire after their TTL", async () => {
      const registry = await harness.registry();
      await registry.recordClientUdp("10.0.0.9", 5001);
      expect(await registry.beginConnect("10.0.0.1", "10.0.0.9")).toEqual({ status: "not_found" });
      await registerWithUdp(registry, "10.0.0.1", 6510);
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9"))).toBe(5001);
      await registry.recordClientUdp("10.0.0.8", 5002);
      await advance(CONTRACT_TIMINGS.clientUdpTtlMs + 100);
      const expired = await registry.beginConnect("10.0.0.1", "10.0.0.8");
      expect(expired.status).toBe("waiting");
      if (expired.status === "waiting") expect(await expired.awaitClientUdp(10)).toBeNull();
    });

    it("a server whose UDP port is unknown is reported as such, and claims nothing", async () => {
      const registry = await harness.registry();
      await registry.registerServer(input("10.0.0.1", "c1"));
      await registry.recordClientUdp("10.0.0.9", 5001);
      expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).status).toBe(
        "server_udp_unknown",
      );
      await registry.recordServerUdp("10.0.0.1", 6510);
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9"))).toBe(5001);
    });

    it("keeps only the newest endpoints when one IP floods", async () => {
      const registry = await harness.registry();
      // One server per claim: each books its own pacer, so no claim is busy.
      const servers = MAX_CLIENT_ENDPOINTS_PER_IP + 1;
      for (let s = 0; s < servers; s++)
        await registerWithUdp(registry, `10.0.3.${s}`, 6510, `c${s}`);
      for (let port = 1; port <= MAX_CLIENT_ENDPOINTS_PER_IP + 10; port++)
        await registry.recordClientUdp("10.0.0.9", 10_000 + port);
      const ports: Array<number | null> = [];
      for (let s = 0; s < servers; s++) {
        const lookup = await registry.beginConnect(`10.0.3.${s}`, "10.0.0.9");
        ports.push(claimed(lookup));
        if (lookup.status === "waiting") await lookup.awaitClientUdp(10);
      }
      expect(ports[0]).toBe(10_000 + MAX_CLIENT_ENDPOINTS_PER_IP + 10);
      expect(ports.filter((port) => port !== null)).toHaveLength(MAX_CLIENT_ENDPOINTS_PER_IP);
      expect(ports.at(-1)).toBeNull();
    });

    it("hands the next UDP connect to a waiting connect, and two waiters each get their own in order", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const first = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      await advance(CONTRACT_TIMINGS.replyGapMs);
      const second = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect([first.status, second.status]).toEqual(["waiting", "waiting"]);
      if (first.status !== "waiting" || second.status !== "waiting") return;
      const waits = [first.awaitClientUdp(3_000), second.awaitClientUdp(3_000)];
      await registry.recordClientUdp("10.0.0.9", 5101);
      await registry.recordClientUdp("10.0.0.9", 5102);
      expect(await Promise.all(waits)).toEqual([5101, 5102]);
    });

    it("a UDP connect that lands before its waiter starts to wait is still handed to it", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      await registry.recordClientUdp("10.0.0.9", 5201);
      expect(lookup.status).toBe("waiting");
      if (lookup.status === "waiting") expect(await lookup.awaitClientUdp(3_000)).toBe(5201);
    });

    it("a waiter that timed out leaves the queue: the next UDP connect stays claimable", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      if (lookup.status === "waiting") expect(await lookup.awaitClientUdp(50)).toBeNull();
      await registry.recordClientUdp("10.0.0.9", 5301);
      await advance(CONTRACT_TIMINGS.clientUdpFreshMs / 2);
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9"))).toBe(5301);
    });

    it("claims at once only a fresh endpoint: a datagram that arrives while the connect waits beats an older one", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      // A forger sent a datagram from the client's address before the client connected.
      await registry.recordClientUdp("10.0.0.9", 6666);
      await advance(CONTRACT_TIMINGS.clientUdpFreshMs + 100);
      // The client's TCP connect overtakes its own UDP connect.
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(lookup).toMatchObject({ status: "waiting", olderEndpoint: true });
      if (lookup.status !== "waiting") return;
      const handed = lookup.awaitClientUdp(3_000);
      await registry.recordClientUdp("10.0.0.9", 5001);
      expect(await handed).toBe(5001);
    });

    it("a connect that already waited (for a hand-over) claims at once what was sent since it began", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      await registry.recordClientUdp("10.0.0.9", 5003);
      await advance(CONTRACT_TIMINGS.clientUdpFreshMs + 100);
      const waitedMs = CONTRACT_TIMINGS.clientUdpFreshMs + 200;
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9", waitedMs))).toBe(5003);
    });

    it("a waiting connect that no fresher datagram reaches claims the older live endpoint, once, and books it", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      await registry.recordClientUdp("10.0.0.9", 5002);
      await advance(CONTRACT_TIMINGS.clientUdpFreshMs + 100);
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(lookup.status).toBe("waiting");
      if (lookup.status === "waiting") expect(await lookup.awaitClientUdp(20)).toBe(5002);
      const again = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(again).toMatchObject({ status: "waiting", olderEndpoint: false });
      if (again.status === "waiting") expect(await again.awaitClientUdp(20)).toBeNull();
      // Its -1 holds a slot: with gap 100 ms and backlog 200 ms two more fit at once, not three.
      const statuses: string[] = [];
      for (let i = 0; i < 3; i++) {
        await registry.recordClientUdp(`10.0.8.${i}`, 5100 + i);
        statuses.push((await registry.beginConnect("10.0.0.1", `10.0.8.${i}`)).status);
      }
      expect(statuses).toEqual(["ready", "ready", "busy"]);
    });

    it("books each -1 on the server's pacer and answers busy past the backlog", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const statuses: string[] = [];
      // gap 100 ms, backlog 200 ms: at once, +100, +200 fit; +300 does not.
      for (let i = 0; i < 5; i++) {
        await registry.recordClientUdp(`10.0.1.${i}`, 5000 + i);
        statuses.push((await registry.beginConnect("10.0.0.1", `10.0.1.${i}`)).status);
      }
      expect(statuses.slice(0, 3)).toEqual(["ready", "ready", "ready"]);
      expect(statuses.slice(3)).toContain("busy");
      await advance(1_000);
      await registry.recordClientUdp("10.0.1.9", 5009);
      expect((await registry.beginConnect("10.0.0.1", "10.0.1.9")).status).toBe("ready");
    });

    it("connects that never send UDP book nothing: however many wait, the server is not busy", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      // More waiting connects than the backlog holds -1s (gap 100 ms, backlog 200 ms).
      const waiting: ConnectLookup[] = [];
      for (let i = 0; i < 6; i++)
        waiting.push(await registry.beginConnect("10.0.0.1", `10.0.4.${i}`));
      expect(waiting.map((lookup) => lookup.status)).toEqual(Array(6).fill("waiting"));
      await registry.recordClientUdp("10.0.0.9", 5501);
      expect(claimed(await registry.beginConnect("10.0.0.1", "10.0.0.9"))).toBe(5501);
      for (const lookup of waiting)
        if (lookup.status === "waiting") expect(await lookup.awaitClientUdp(10)).toBeNull();
      // Given up, they leave nothing booked either: three -1s fit at once again.
      await advance(CONTRACT_TIMINGS.serverReplyBacklogMs + CONTRACT_TIMINGS.replyGapMs);
      const statuses: string[] = [];
      for (let i = 0; i < 3; i++) {
        await registry.recordClientUdp(`10.0.5.${i}`, 5600 + i);
        statuses.push((await registry.beginConnect("10.0.0.1", `10.0.5.${i}`)).status);
      }
      expect(statuses).toEqual(["ready", "ready", "ready"]);
    });

    it("a waiting connect books its -1 when its UDP connect comes, and is told busy if the backlog filled meanwhile", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const late = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      if (late.status !== "waiting") throw new Error(`expected waiting, got ${late.status}`);
      const handed = late.awaitClientUdp(3_000);
      // Clients that sent UDP first fill the backlog while it waits.
      let status = "ready";
      for (let i = 0; status === "ready" && i < 6; i++) {
        await registry.recordClientUdp(`10.0.6.${i}`, 5700 + i);
        status = (await registry.beginConnect("10.0.0.1", `10.0.6.${i}`)).status;
      }
      expect(status).toBe("busy");
      await registry.recordClientUdp("10.0.0.9", 5801);
      expect(await handed).toBe("busy");
    });

    it("a waiting connect handed its port holds a booked slot like a connect that was ready", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510);
      const waiting: ConnectLookup[] = [];
      for (let i = 0; i < 3; i++)
        waiting.push(await registry.beginConnect("10.0.0.1", `10.0.7.${i}`));
      const handed = waiting.map((lookup) =>
        lookup.status === "waiting" ? lookup.awaitClientUdp(3_000) : Promise.resolve(null),
      );
      for (let i = 0; i < 3; i++) await registry.recordClientUdp(`10.0.7.${i}`, 5900 + i);
      expect(await Promise.all(handed)).toEqual([5900, 5901, 5902]);
      // Three -1s booked (at once, +100, +200 ms): a fourth would wait past the backlog.
      await registry.recordClientUdp("10.0.0.9", 5999);
      expect((await registry.beginConnect("10.0.0.1", "10.0.0.9")).status).toBe("busy");
    });
  });

  describe(`${name}: hand-over`, () => {
    it("a marked registration makes connects wait, and the server's next registration wakes them", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510, "old");
      expect(await registry.markHandover("10.0.0.1", "stranger")).toBe(false);
      expect(await registry.markHandover("10.0.0.1", "old")).toBe(true);
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      expect(lookup.status).toBe("handover");
      if (lookup.status !== "handover") return;
      const woken = lookup.awaitRegistration(3_000);
      await registerWithUdp(registry, "10.0.0.1", 6510, "new");
      expect(await woken).toBe(true);
      await registry.recordClientUdp("10.0.0.9", 5401);
      expect(await registry.beginConnect("10.0.0.1", "10.0.0.9")).toMatchObject({
        status: "ready",
        clientUdpPort: 5401,
        server: { ownerConnectionId: "new" },
      });
    });

    it("a connect waiting for a hand-over is woken by a registration landing after the client UDP TTL", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510, "old");
      await registry.markHandover("10.0.0.1", "old");
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      if (lookup.status !== "handover") throw new Error(`expected handover, got ${lookup.status}`);
      const woken = lookup.awaitRegistration(CONTRACT_TIMINGS.handoverWaitMs);
      // Within the hand-over wait, but past anything kept only as long as a client endpoint.
      await advance(CONTRACT_TIMINGS.clientUdpTtlMs + 300);
      await registerWithUdp(registry, "10.0.0.1", 6510, "new");
      expect(await woken).toBe(true);
    });

    it("a hand-over nobody completes times out", async () => {
      const registry = await harness.registry();
      await registerWithUdp(registry, "10.0.0.1", 6510, "old");
      await registry.markHandover("10.0.0.1", "old");
      const lookup = await registry.beginConnect("10.0.0.1", "10.0.0.9");
      if (lookup.status !== "handover") throw new Error(`expected handover, got ${lookup.status}`);
      expect(await lookup.awaitRegistration(100)).toBe(false);
    });
  });

  describe(`${name}: lobby`, () => {
    const query = (q: Partial<LobbyQuery>): LobbyQuery => ({
      filters: [],
      sortBy: "date",
      sortDirection: "DESC",
      limit: null,
      ...q,
    });
    const ips = (rows: ServerRegistration[]) => rows.map((row) => row.ip);

    async function fixture(registry: Registry): Promise<void> {
      // Registered a second apart: createdTime orders them.
      for (const [ip, d1, d2] of [
        ["10.0.0.1", "Game", "b"],
        ["10.0.0.2", "Game", "a"],
        ["10.0.0.3", "Other", "c"],
      ] as const) {
        await registry.registerServer(input(ip, `c-${ip}`, data(d1, d2)));
        await advance(1_001);
      }
    }

    it("filters, sorts and limits", async () => {
      const registry = await harness.registry();
      await fixture(registry);
      const byData2 = query({ filters: ["Game"], sortBy: "data2", sortDirection: "ASC" });
      expect(ips(await registry.queryLobby(byData2, NO_BOUNDS))).toEqual(["10.0.0.2", "10.0.0.1"]);
      expect(ips(await registry.queryLobby({ ...byData2, limit: 1 }, NO_BOUNDS))).toEqual([
        "10.0.0.2",
      ]);
      expect(ips(await registry.queryLobby(query({ filters: ["", "c"] }), NO_BOUNDS))).toEqual([
        "10.0.0.3",
      ]);
      expect(ips(await registry.queryLobby(query({}), NO_BOUNDS))).toEqual([
        "10.0.0.3",
        "10.0.0.2",
        "10.0.0.1",
      ]);
      expect(
        ips(await registry.queryLobby(query({ sortDirection: "ASC", limit: 2 }), NO_BOUNDS)),
      ).toEqual(["10.0.0.1", "10.0.0.2"]);
    });

    it("examines at most scanLimit servers (the newest), whatever the sort", async () => {
      const registry = await harness.registry();
      await fixture(registry);
      const bounds = { scanLimit: 2, replyMaxBytes: null };
      // Sorting by data2 sorts only what the scan saw: the two newest.
      expect(
        ips(await registry.queryLobby(query({ sortBy: "data2", sortDirection: "ASC" }), bounds)),
      ).toEqual(["10.0.0.2", "10.0.0.3"]);
    });

    it("stops at the reply's byte bound (plus the one entry the encoder trims)", async () => {
      const registry = await harness.registry();
      for (let i = 0; i < 20; i++)
        await registry.registerServer(input(`10.0.2.${i}`, `c${i}`, data("x".repeat(100))));
      const rows = await registry.queryLobby(query({}), { scanLimit: 1_000, replyMaxBytes: 600 });
      // Each entry is about 122 + 9 + 100 bytes: two fit in 600, a third crosses it.
      expect(rows).toHaveLength(3);
    });

    it("leaves out an entry too big for any reply, so those behind it are still listed, whatever the sort", async () => {
      const registry = await harness.registry();
      await registry.registerServer(input("10.0.0.1", "c1", data("Game", "a")));
      await advance(1_001);
      // The newest, with padded data: about 122 + 8 + 700 bytes, more than a 600-byte reply.
      await registry.registerServer(input("10.0.0.2", "c2", data("Game", "b", "x".repeat(700))));
      const bounds = { scanLimit: 1_000, replyMaxBytes: 600 };
      for (const sort of [
        query({ limit: 1 }),
        query({ sortBy: "data2", sortDirection: "DESC", limit: 1 }),
      ])
        expect(ips(await registry.queryLobby(sort, bounds))).toEqual(["10.0.0.1"]);
      // 431 bytes of raw data, 731 once JSON doubles each `"` and `\`: sized as sent, too big as well.
      await advance(1_001);
      const doubled = `${'"'.repeat(150)}${"\\".repeat(150)}`;
      await registry.registerServer(input("10.0.0.3", "c3", data("Game", "c", doubled)));
      expect(ips(await registry.queryLobby(query({}), bounds))).toEqual(["10.0.0.1"]);
      // Without a byte bound (the admin API) they are listed.
      expect(ips(await registry.queryLobby(query({}), NO_BOUNDS))).toEqual([
        "10.0.0.3",
        "10.0.0.2",
        "10.0.0.1",
      ]);
    });
  });

  describe(`${name}: keeping registrations alive`, () => {
    it("refresh reports kept (with the port a late UDP reg bound), missing and superseded", async () => {
      const registry = await harness.registry();
      const kept = (await registry.registerServer(input("10.0.0.1", "c1"))).registration;
      await registry.recordServerUdp("10.0.0.1", 4242);
      await registry.registerServer(input("10.0.0.3", "c3"));
      await registry.registerServer(input("10.0.0.3", "newer", NO_DATA, "node-b"));
      expect(
        await registry.refreshOwned([
          { ip: kept.ip, ownerConnectionId: "c1" },
          { ip: "10.0.0.2", ownerConnectionId: "c2" },
          { ip: "10.0.0.3", ownerConnectionId: "c3" },
        ]),
      ).toEqual([
        { outcome: "kept", udpPort: 4242 },
        { outcome: "missing" },
        { outcome: "superseded" },
      ]);
    });

    it("restore puts back a lost registration with its data, and its port resists a stray UDP reg", async () => {
      const registry = await harness.registry();
      await registry.recordServerUdp("10.0.0.1", 50_000);
      const lost = (await registry.registerServer(input("10.0.0.1", "c1", data("Game", "EU"))))
        .registration;
      await registry.unregisterServer("10.0.0.1", "c1"); // as if the store had lost it
      const taken = (await registry.registerServer(input("10.0.0.2", "other"))).registration;
      expect(await registry.restoreOwned([lost, { ...taken, ownerConnectionId: "mine" }])).toEqual([
        { outcome: "restored", udpPort: 50_000 },
        { outcome: "superseded" },
      ]);
      expect(await registry.findServer("10.0.0.1")).toMatchObject({
        data: data("Game", "EU"),
        udpPort: 50_000,
      });
      await registry.recordServerUdp("10.0.0.1", 6_666);
      expect((await registry.findServer("10.0.0.1"))?.udpPort).toBe(50_000);
      const lobby = await registry.queryLobby(
        { filters: ["Game"], sortBy: "date", sortDirection: "DESC", limit: null },
        NO_BOUNDS,
      );
      expect(lobby.map((row) => row.ip)).toEqual(["10.0.0.1"]);
    });
  });
}
