// The open internet, case by case (issue 9): each attack reproduced on
// loopback, and the bound it now meets asserted as counts, sizes and queue
// lengths (never durations). The Redis-side cases are in
// test/cluster/hostile-redis.test.ts; the memory store's source cap is in
// test/unit/memory-registry.test.ts; PROXY trust is in master.test.ts and the
// closed admin API in http.test.ts.
import { describe, expect, it } from "vitest";
import {
  connectionCap,
  memoryLimitBytes,
  openFileLimit,
} from "../../src/transport/connection-cap.js";
import {
  capturedLogger,
  metricTotal,
  type RawTcp,
  registerRawServer,
  resourcesClosedAfterEach,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";
import {
  NOT_FOUND,
  peerReply,
  proxyV2Header,
  tcpConnect,
  tcpLobby2,
  tcpReg2,
  UDP_CONNECT,
  UDP_REG,
} from "../helpers/wire.js";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

const GAME_HEADER = Buffer.from([0xde, 0xc0, 0xad, 0xde, 12, 0, 0, 0, 0, 0, 0, 0]);
const udpWithHeader = (payload: Buffer) => Buffer.concat([GAME_HEADER, payload]);

function badInput(master: TestMaster, reason: string): Promise<number> {
  return metricTotal(master.node.metrics.badInput, { reason });
}

function outcomes(master: TestMaster, outcome: string): Promise<number> {
  return metricTotal(master.node.metrics.connectOutcomes, { outcome });
}

/** Registers `count` servers straight in the store (fast), each with the same lobby data. */
async function fillLobby(master: TestMaster, count: number, data: string[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    await master.node.backend.registry.registerServer({
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      version: "1.2.4",
      data,
      ownerNodeId: "elsewhere",
      ownerConnectionId: `c${i}`,
    });
  }
}

describe("lobby amplification and slow readers (case 2)", () => {
  it("a default lobby reply fits one TCP segment a game reads in one event, however much data the servers publish", async () => {
    const master = await resources.master();
    // Registered through the wire: 8 × 1,000 quotes each, the reproduction.
    for (let i = 0; i < 20; i++) {
      await registerRawServer(resources, master, `127.0.3.${i + 1}`, {
        version: "1.2.4",
        data: Array(8).fill('"'.repeat(1000)),
      });
    }
    expect(await badInput(master, "lobby_data_truncated")).toBe(20);
    const stored = await master.node.backend.registry.findServer("127.0.3.1");
    expect(stored?.data[0]).toHaveLength(master.node.config.lobbyDataMaxBytes);
    const asker = await resources.tcp(master.gamePort, "127.0.4.1");
    asker.send(tcpLobby2());
    await asker.waitForClose();
    const reply = asker.received;
    expect(reply.length).toBeLessThanOrEqual(1200);
    expect(reply[0]).toBe(0xf9);
    const rows = JSON.parse(reply.toString("utf8", 1).trim()) as unknown[];
    expect(rows.length).toBeGreaterThan(0); // whole entries: the JSON stays valid
    expect(await metricTotal(master.node.metrics.lobbyRequests, { result: "truncated" })).toBe(1);
  });

  it("100 non-reading sockets share one cached reply, and a reader too slow for its buffer cap is closed", async () => {
    const master = await resources.master({
      // An operator who raised the lobby cap far past what one read holds.
      config: {
        lobbyReplyMaxBytes: 16 * 1024 * 1024,
        lobbyDataMaxBytes: 1024,
        lobbyRatePerSource: 0,
        lobbyCacheMs: 60_000,
        maxBufferedBytesPerSocket: 65_536,
      },
    });
    await fillLobby(master, 1_000, Array(8).fill('"'.repeat(1024))); // ~16 MB of JSON
    const sockets: RawTcp[] = [];
    for (let i = 0; i < 100; i++) {
      const socket = await resources.tcp(master.gamePort, "127.0.5.1");
      socket.socket.pause(); // never reads
      socket.send(tcpLobby2());
      sockets.push(socket);
    }
    // One store query and one encoded reply for all of them; more than the kernel
    // holds for a reader that never reads: each socket is closed, its buffer released.
    // (A paused client never reads the close either: the node's side is what counts.)
    await waitFor(
      async () => (await badInput(master, "slow_reader")) === 100,
      20_000,
      "every slow reader closed",
    );
    expect(await metricTotal(master.node.metrics.lobbyCache, { result: "miss" })).toBe(1);
    expect(await metricTotal(master.node.metrics.lobbyCache, { result: "hit" })).toBe(99);
    expect(master.node.listener.openConnections).toBe(0);
  });
});

describe("a connect flood on one server (case 3)", () => {
  it("books at most the server's backlog of -1s and answers the rest -2, so no -1 arrives stale", async () => {
    const master = await resources.master({
      config: { replyGapMs: 1_000, serverReplyBacklog: 3, connectRatePerSource: 0 },
    });
    const server = await registerRawServer(resources, master, "127.0.6.1");
    const clients: RawTcp[] = [];
    for (let i = 0; i < 30; i++) {
      const ip = `127.0.7.${(i % 3) + 1}`;
      const udp = await resources.udp(ip);
      await udp.send(udpWithHeader(UDP_CONNECT), master.gamePort);
      const tcp = await resources.tcp(master.gamePort, ip);
      tcp.send(tcpConnect("127.0.6.1"));
      clients.push(tcp);
    }
    await waitFor(
      () => clients.every((c) => c.received.length > 0),
      10_000,
      "every client answered",
    );
    const found = await outcomes(master, "found");
    const busy = await outcomes(master, "server_busy");
    expect(found + busy).toBe(30);
    // The burst takes well under a second: the first -1 at once, then the backlog.
    expect(found).toBeLessThanOrEqual(1 + 3 + 1);
    expect(busy).toBeGreaterThanOrEqual(30 - 5);
    const held = master.node.mediator.owned.registrations()[0]?.connectionId as string;
    expect(master.node.mediator.owned.connection(held)?.pendingReplies).toBeLessThanOrEqual(3);
    expect(clients.filter((c) => c.received.equals(NOT_FOUND))).toHaveLength(busy);
    server.tcp.close();
  });

  it("connects that never send UDP hold none of the backlog: a player still gets its -1 while they wait", async () => {
    const master = await resources.master({
      config: {
        replyGapMs: 1_000,
        serverReplyBacklog: 2,
        connectRatePerSource: 0,
        clientUdpWaitMs: 5_000,
      },
    });
    const server = await registerRawServer(resources, master, "127.0.6.3");
    const silent: RawTcp[] = [];
    for (let i = 1; i <= 6; i++) {
      const tcp = await resources.tcp(master.gamePort, `127.0.8.${i}`);
      tcp.send(tcpConnect("127.0.6.3"));
      silent.push(tcp);
    }
    await waitFor(() => master.node.mediator.inFlight.size === 6, 5_000, "six connects waiting");
    const udp = await resources.udp("127.0.8.9");
    await udp.send(udpWithHeader(UDP_CONNECT), master.gamePort);
    const player = await resources.tcp(master.gamePort, "127.0.8.9");
    player.send(tcpConnect("127.0.6.3"));
    const expected = peerReply("127.0.6.3", server.udp.port);
    expect(await player.waitForBytes(expected.length)).toEqual(expected);
    expect(silent.every((tcp) => tcp.received.length === 0)).toBe(true);
  });

  it("caps connects per source: beyond the rate a client is answered -2 at once", async () => {
    const master = await resources.master({ config: { connectRatePerSource: 5 } });
    await registerRawServer(resources, master, "127.0.6.2");
    const answers: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const tcp = await resources.tcp(master.gamePort, "127.0.7.9");
      tcp.send(tcpConnect("127.0.6.9")); // unknown: cheap -2 either way
      answers.push(await tcp.waitForBytes(1));
    }
    expect(await badInput(master, "connect_rate_limited")).toBeGreaterThanOrEqual(20 - 10 - 1);
    expect(answers.every((a) => a.equals(NOT_FOUND))).toBe(true);
  });
});

describe("forged-source UDP (case 4)", () => {
  it("a forger spoofing a client's IP from other ports cannot drain that client's bucket", async () => {
    const master = await resources.master({ config: { udpRatePerEndpoint: 5 } });
    const server = await registerRawServer(resources, master, "127.0.8.1");
    const forger = await resources.udp("127.0.8.2"); // the victim's IP, another port
    for (let i = 0; i < 200; i++) await forger.send(udpWithHeader(UDP_CONNECT), master.gamePort);
    await waitFor(async () => (await badInput(master, "udp_rate_limited")) > 150, 5_000, "drops");
    const victimUdp = await resources.udp("127.0.8.2");
    await victimUdp.send(udpWithHeader(UDP_CONNECT), master.gamePort);
    const victim = await resources.tcp(master.gamePort, "127.0.8.2");
    victim.send(tcpConnect("127.0.8.1"));
    const expected = peerReply("127.0.8.1", server.udp.port);
    expect(await victim.waitForBytes(expected.length)).toEqual(expected);
    // And the server was told the victim's real port, the newest endpoint of its IP.
    const toServer = peerReply("127.0.8.2", victimUdp.port);
    expect(await server.tcp.waitForBytes(toServer.length)).toEqual(toServer);
  });

  it("one forged connect sent before the real one does not win the pairing", async () => {
    const master = await resources.master();
    const server = await registerRawServer(resources, master, "127.0.8.3");
    const forged = await resources.udp("127.0.8.4");
    await forged.send(udpWithHeader(UDP_CONNECT), master.gamePort);
    const real = await resources.udp("127.0.8.4");
    await real.send(udpWithHeader(UDP_CONNECT), master.gamePort);
    const client = await resources.tcp(master.gamePort, "127.0.8.4");
    client.send(tcpConnect("127.0.8.3"));
    const toServer = peerReply("127.0.8.4", real.port);
    expect(await server.tcp.waitForBytes(toServer.length)).toEqual(toServer);
  });

  it("a forged reg cannot change an established server's port at its re-registration, and is counted", async () => {
    const master = await resources.master({ config: { serverUdpBindWindowMs: 2_000 } });
    const first = await registerRawServer(resources, master, "127.0.8.5");
    const forger = await resources.udp("127.0.8.5");
    await forger.send(udpWithHeader(UDP_REG), master.gamePort);
    // The game registers again (as after a failed ping): its own reg, then reg2.
    await first.udp.send(udpWithHeader(UDP_REG), master.gamePort);
    const again = await resources.tcp(master.gamePort, "127.0.8.5");
    again.send(tcpReg2("1.2.4", []));
    await waitFor(
      async () => (await master.node.backend.registry.findServer("127.0.8.5"))?.version === "1.2.4",
      5_000,
      "the re-registration",
    );
    expect((await master.node.backend.registry.findServer("127.0.8.5"))?.udpPort).toBe(
      first.udp.port,
    );
    expect(await badInput(master, "udp_port_conflict")).toBeGreaterThanOrEqual(1);
  });
});

describe("IPv6 sources counted by prefix (case 5)", () => {
  const PROXIED = {
    proxyProtocol: "v2" as const,
    proxyTrustedCidrs: [{ family: 4 as const, address: "127.0.0.1", prefixLength: 32 }],
  };
  /** 2001:db8:1:2::<n>: one /64, a different /128 each. */
  const inOneSlash64 = (n: number) => {
    const bytes = Buffer.alloc(16);
    Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2]).copy(bytes, 0);
    bytes.writeUInt32BE(n, 12);
    return bytes;
  };

  it("one /64 holds no more connections than one IPv4 address", async () => {
    const master = await resources.master({ config: { ...PROXIED, maxConnectionsPerSource: 20 } });
    const sockets: RawTcp[] = [];
    for (let i = 1; i <= 40; i++) {
      const socket = await resources.tcp(master.gamePort, "127.0.0.1");
      socket.send(
        Buffer.concat([proxyV2Header("tcp6", inOneSlash64(i), 40_000), Buffer.from("version\n\0")]),
      );
      sockets.push(socket);
    }
    await waitFor(() => sockets.filter((s) => s.closed).length >= 20, 5_000, "the refused ones");
    expect(await badInput(master, "too_many_connections")).toBe(20);
    expect(sockets.filter((s) => !s.closed)).toHaveLength(20);
  });

  it("one /64 registers at most maxServersPerSource servers", async () => {
    const master = await resources.master({ config: { ...PROXIED, maxServersPerSource: 4 } });
    for (let i = 1; i <= 10; i++) {
      const socket = await resources.tcp(master.gamePort, "127.0.0.1");
      socket.send(
        Buffer.concat([proxyV2Header("tcp6", inOneSlash64(i), 40_000), tcpReg2("1.2.4", ["Game"])]),
      );
    }
    await waitFor(
      async () => (await badInput(master, "too_many_servers")) === 6,
      5_000,
      "refusals",
    );
    expect(await master.node.backend.registry.countServers()).toBe(4);
  });

  it("counts addresses, not sockets: a game registers again over its own lingering socket at the cap", async () => {
    const master = await resources.master({ config: { maxServersPerSource: 1 } });
    const ip = "127.0.6.9";
    const first = await registerRawServer(resources, master, ip);
    const before = await master.node.backend.registry.findServer(ip);
    // The first socket is still open (its host lost it silently); the game registers again.
    await registerRawServer(resources, master, ip);
    const after = await master.node.backend.registry.findServer(ip);
    expect(after?.ownerConnectionId).not.toBe(before?.ownerConnectionId);
    expect(await badInput(master, "too_many_servers")).toBe(0);
    await waitFor(() => first.tcp.closed, 5_000, "the superseded socket closed");
  });
});

describe("idle sockets and log floods (case 10)", () => {
  it("ping keeps only a registered server's socket: a socket that only pings is closed at its idle timeout", async () => {
    const master = await resources.master({ config: { idleTimeoutMs: 500 } });
    const pinger = await resources.tcp(master.gamePort, "127.0.9.1");
    const timer = setInterval(() => pinger.send("ping\n\0"), 100);
    try {
      await pinger.waitForClose(5_000);
    } finally {
      clearInterval(timer);
    }
    expect(await badInput(master, "idle_timeout")).toBe(1);
  });

  it("a registration repeated 50 times on one socket is 50 registrations but at most a few log lines", async () => {
    const { logger, lines } = capturedLogger();
    const master = await resources.master({ logger });
    const udp = await resources.udp("127.0.9.2");
    await udp.send(udpWithHeader(UDP_REG), master.gamePort);
    const server = await resources.tcp(master.gamePort, "127.0.9.2");
    for (let i = 0; i < 50; i++) {
      server.send(tcpReg2("1.2.4", [`round ${i}`]));
      await waitFor(
        async () =>
          (await master.node.backend.registry.findServer("127.0.9.2"))?.data[0] === `round ${i}`,
        5_000,
        `registration ${i}`,
      );
    }
    const registered = lines.filter((line) => line.msg === "server registered");
    expect(registered.length).toBeGreaterThanOrEqual(1);
    expect(registered.length).toBeLessThanOrEqual(3);
    const suppressed = registered.reduce((sum, line) => sum + Number(line.suppressed ?? 0), 0);
    expect(registered.length + suppressed).toBeLessThanOrEqual(50);
  });
});

describe("connections per node below the descriptor limit (case 11)", () => {
  it("past the node's cap new connections are closed and counted; HTTP keeps answering", async () => {
    const master = await resources.master({ http: true, config: { maxConnections: 5 } });
    const open: RawTcp[] = [];
    for (let i = 0; i < 5; i++)
      open.push(await resources.tcp(master.gamePort, `127.0.10.${i + 1}`));
    const refused = await resources.tcp(master.gamePort, "127.0.10.9");
    await refused.waitForClose();
    expect(await badInput(master, "node_connection_limit")).toBe(1);
    expect(open.every((s) => !s.closed)).toBe(true);
    expect((await fetch(`${master.httpUrl}/healthz`)).status).toBe(200);
  });

  it("the default cap keeps 256 descriptors of the open-file limit for HTTP, Redis and logs", () => {
    const limits = "Max open files            20000                20000                files\n";
    expect(openFileLimit(() => limits)).toBe(20_000);
    const plentyOfMemory = 64 * 2 ** 30;
    expect(connectionCap(0, { openFiles: 20_000, memoryBytes: plentyOfMemory })).toEqual({
      maxConnections: 20_000 - 256,
      boundBy: "open files",
    });
    expect(connectionCap(1_000, { openFiles: 20_000, memoryBytes: plentyOfMemory })).toEqual({
      maxConnections: 1_000,
      boundBy: "configured",
    });
    expect(openFileLimit(() => "garbage")).toBeNull();
  });

  it("the default cap lets connections take at most half the memory limit, at 8 KiB each", () => {
    // A container with nofile 1048576 and a 512 MiB limit: memory decides.
    expect(connectionCap(0, { openFiles: 1_048_576, memoryBytes: 512 * 2 ** 20 })).toEqual({
      maxConnections: 32_768,
      boundBy: "memory",
    });
    expect(connectionCap(0, { openFiles: null, memoryBytes: 64 * 2 ** 20 })).toEqual({
      maxConnections: 4_096,
      boundBy: "memory",
    });
  });

  it("reads the memory limit from cgroup v2, then v1, else the machine's memory", () => {
    const machine = 16 * 2 ** 30;
    const files = (entries: Record<string, string>) => (path: string) => {
      const text = entries[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    };
    const v2 = "/sys/fs/cgroup/memory.max";
    const v1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    expect(memoryLimitBytes(files({ [v2]: "536870912\n" }), machine)).toBe(536_870_912);
    expect(memoryLimitBytes(files({ [v2]: "max\n" }), machine)).toBe(machine);
    expect(memoryLimitBytes(files({ [v1]: "9223372036854771712\n" }), machine)).toBe(machine);
    expect(memoryLimitBytes(files({ [v1]: "1073741824" }), machine)).toBe(2 ** 30);
    expect(memoryLimitBytes(files({}), machine)).toBe(machine);
  });
});
