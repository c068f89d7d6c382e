// The master over real loopback sockets, asserting the exact bytes games see.
// 127.0.0.2, 127.0.0.3 … stand for distinct public IPs.
import { describe, expect, it } from "vitest";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodePingRequest,
  encodeReg2Request,
  encodeRegRequest,
  encodeUdpRequest,
} from "../../src/protocol/index.js";
import { CLIENT_UDP_FRESH_MS } from "../../src/cluster/timing.js";
import { MASTER_VERSION } from "../../src/version.js";
import {
  metricTotal,
  peerFoundBytes,
  type RawTcp,
  lobbyData,
  registerLobbyFixture,
  registerRawServer,
  resourcesClosedAfterEach,
  type StartMasterOptions,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";
import { NOT_FOUND, proxyV2Header } from "../helpers/wire.js";

const SERVER_IP = "127.0.0.2";
const CLIENT_IP = "127.0.0.3";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

function startMaster(options?: StartMasterOptions): Promise<TestMaster> {
  return resources.master(options);
}

/** A client as the GML script does it: UDP `connect` from its game socket, then TCP `connect`. */
async function connectClient(master: TestMaster, serverIp: string, clientIp = CLIENT_IP) {
  const udp = await resources.udp(clientIp);
  await udp.send(encodeUdpRequest("connect", true), master.gamePort);
  await waitFor(
    async () => (await metricTotal(master.node.metrics.udpDatagrams, { command: "connect" })) > 0,
    5_000,
    "UDP connect recorded",
  );
  const tcp = await resources.tcp(master.gamePort, clientIp);
  tcp.send(encodeConnectRequest(serverIp));
  return { udp, tcp };
}

async function lobbyJson(tcp: RawTcp): Promise<Array<Record<string, unknown>>> {
  await tcp.waitForClose();
  const [chunk] = tcp.chunks;
  expect(tcp.chunks).toHaveLength(1);
  if (!chunk) throw new Error("no lobby reply");
  expect(chunk[0]).toBe(0xf9);
  expect(chunk[chunk.length - 1]).toBe(0x0a);
  return JSON.parse(chunk.subarray(1).toString("utf8")) as Array<Record<string, unknown>>;
}

describe("connect mediation", () => {
  it("a registered server and a connecting client each get -1 with the other's public ip and UDP port", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    const client = await connectClient(master, SERVER_IP);

    const [toClient] = await client.tcp.waitForChunks(1);
    const [toServer] = await server.tcp.waitForChunks(1);
    expect(toClient).toEqual(peerFoundBytes(SERVER_IP, server.udp.port));
    expect(toServer).toEqual(peerFoundBytes(CLIENT_IP, client.udp.port));
    expect(await metricTotal(master.node.metrics.connectOutcomes, { outcome: "found" })).toBe(1);
  });

  it("a GATE.PUNCH reg2 server is mediated like a classic reg server", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP, {
      version: "1.2.5",
      data: ["room", "", "", "", "", "", "", ""],
    });
    const client = await connectClient(master, SERVER_IP);
    expect((await client.tcp.waitForChunks(1))[0]).toEqual(
      peerFoundBytes(SERVER_IP, server.udp.port),
    );
    expect((await server.tcp.waitForChunks(1))[0]).toEqual(
      peerFoundBytes(CLIENT_IP, client.udp.port),
    );
  });

  it("a connect naming the server as IPv4-mapped IPv6 finds the IPv4 registration", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    const client = await connectClient(master, `::ffff:${SERVER_IP}`);
    expect((await client.tcp.waitForChunks(1))[0]).toEqual(
      peerFoundBytes(SERVER_IP, server.udp.port),
    );
  });

  it("a connect to an unknown server gets exactly -2", async () => {
    const master = await startMaster();
    const client = await connectClient(master, "127.0.0.99");
    expect(await client.tcp.waitForChunks(1)).toEqual([NOT_FOUND]);
    expect(await metricTotal(master.node.metrics.connectOutcomes, { outcome: "not_found" })).toBe(
      1,
    );
  });

  it("a connect naming garbage instead of an IP gets -2", async () => {
    const master = await startMaster();
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeConnectRequest("not-an-ip"));
    expect(await tcp.waitForChunks(1)).toEqual([NOT_FOUND]);
  });

  it("a TCP connect before the client's UDP connect waits for it, then gets -1", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 10_000 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeConnectRequest(SERVER_IP));
    await waitFor(
      async () =>
        (await metricTotal(master.node.metrics.tcpCommands, { command: "connect" })) === 1,
    );
    expect(tcp.chunks).toEqual([]); // nothing yet: it is waiting for the UDP endpoint

    const udp = await resources.udp(CLIENT_IP);
    await udp.send(encodeUdpRequest("connect", true), master.gamePort);
    expect(await tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
    expect(await server.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, udp.port)]);
  });

  /** The client's UDP `connect`, recorded, then left to age past the fresh window. */
  async function olderEndpoint(master: TestMaster) {
    const udp = await resources.udp(CLIENT_IP);
    await udp.send(encodeUdpRequest("connect", true), master.gamePort);
    await waitFor(
      async () =>
        (await metricTotal(master.node.metrics.udpDatagrams, { command: "connect" })) === 1,
    );
    await new Promise((resolve) => setTimeout(resolve, CLIENT_UDP_FRESH_MS + 100));
    return udp;
  }

  it("a TCP connect whose client's UDP endpoint is over a second old waits one second for a newer one, not the whole UDP wait, then takes it", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 10_000 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const udp = await olderEndpoint(master);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeConnectRequest(SERVER_IP));
    // Answered long before the 10 s UDP wait would end.
    expect(await tcp.waitForChunks(1, 5_000)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
    expect(await server.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, udp.port)]);
  });

  it("two connects from one address sharing one older endpoint: one takes it, the other still waits for its own datagram", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 6_000 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const udpA = await olderEndpoint(master);
    const tcpA = await resources.tcp(master.gamePort, CLIENT_IP);
    tcpA.send(encodeConnectRequest(SERVER_IP));
    const tcpB = await resources.tcp(master.gamePort, CLIENT_IP);
    tcpB.send(encodeConnectRequest(SERVER_IP));
    expect(await tcpA.waitForChunks(1, 5_000)).toEqual([
      peerFoundBytes(SERVER_IP, server.udp.port),
    ]);
    // Past both connects' one-second wait: B's own datagram comes, and is B's.
    await new Promise((resolve) => setTimeout(resolve, CLIENT_UDP_FRESH_MS));
    const udpB = await resources.udp(CLIENT_IP);
    await udpB.send(encodeUdpRequest("connect", true), master.gamePort);
    expect(await tcpB.waitForChunks(1, 5_000)).toEqual([
      peerFoundBytes(SERVER_IP, server.udp.port),
    ]);
    expect((await server.tcp.waitForChunks(2)).map(String).sort()).toEqual(
      [peerFoundBytes(CLIENT_IP, udpA.port), peerFoundBytes(CLIENT_IP, udpB.port)]
        .map(String)
        .sort(),
    );
  });

  it("a TCP connect with no UDP connect at all gets -2 after clientUdpWaitMs, and the server hears nothing", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 200 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeConnectRequest(SERVER_IP));
    expect(await tcp.waitForChunks(1)).toEqual([NOT_FOUND]);
    expect(
      await metricTotal(master.node.metrics.connectOutcomes, { outcome: "no_udp_endpoint" }),
    ).toBe(1);
    expect(server.tcp.chunks).toEqual([]);
  });

  it("a client's UDP endpoint is used once: a second connect without a new UDP connect gets -2", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 100 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const first = await connectClient(master, SERVER_IP);
    expect(await first.tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
    const second = await resources.tcp(master.gamePort, CLIENT_IP);
    second.send(encodeConnectRequest(SERVER_IP));
    expect(await second.waitForChunks(1)).toEqual([NOT_FOUND]);
  });

  it("two clients behind one IP connecting at once each get their own UDP port, and the server gets both -1s in separate reads", async () => {
    const master = await startMaster({ config: { clientUdpWaitMs: 5_000 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const udpA = await resources.udp(CLIENT_IP);
    const udpB = await resources.udp(CLIENT_IP);
    const tcpA = await resources.tcp(master.gamePort, CLIENT_IP);
    const tcpB = await resources.tcp(master.gamePort, CLIENT_IP);
    await Promise.all([
      udpA.send(encodeUdpRequest("connect", true), master.gamePort),
      udpB.send(encodeUdpRequest("connect", true), master.gamePort),
    ]);
    tcpA.send(encodeConnectRequest(SERVER_IP));
    tcpB.send(encodeConnectRequest(SERVER_IP));

    expect(await tcpA.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
    expect(await tcpB.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
    const toServer = await server.tcp.waitForChunks(2);
    // Each reply alone in its own read: a game parses exactly one reply per network event.
    expect(toServer).toHaveLength(2);
    expect(new Set(toServer.map((chunk) => chunk.toString("latin1")))).toEqual(
      new Set([
        peerFoundBytes(CLIENT_IP, udpA.port).toString("latin1"),
        peerFoundBytes(CLIENT_IP, udpB.port).toString("latin1"),
      ]),
    );
  });
});

describe("server registration lifetime", () => {
  it("a re-registration from the same IP closes the older socket and the newer one wins", async () => {
    const master = await startMaster();
    const older = await registerRawServer(resources, master, SERVER_IP);
    const newer = await registerRawServer(resources, master, SERVER_IP);
    await older.tcp.waitForClose();
    expect(newer.tcp.closed).toBe(false);

    const client = await connectClient(master, SERVER_IP);
    expect(await client.tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, newer.udp.port)]);
    expect(await newer.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, client.udp.port)]);
    expect(older.tcp.chunks).toEqual([]);
  });

  it("closing the server's socket removes its registration", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    server.tcp.close();
    await waitFor(async () => (await master.node.backend.registry.findServer(SERVER_IP)) === null);
    const client = await connectClient(master, SERVER_IP);
    expect(await client.tcp.waitForChunks(1)).toEqual([NOT_FOUND]);
  });

  it("a stale close (of a superseded socket) does not remove the newer registration", async () => {
    const master = await startMaster();
    const older = await registerRawServer(resources, master, SERVER_IP);
    const before = await master.node.backend.registry.findServer(SERVER_IP);
    const newer = await registerRawServer(resources, master, SERVER_IP);
    await older.tcp.waitForClose();
    const after = await master.node.backend.registry.findServer(SERVER_IP);
    expect(after?.ownerConnectionId).not.toBe(before?.ownerConnectionId);
    expect(after?.udpPort).toBe(newer.udp.port);

    const client = await connectClient(master, SERVER_IP);
    expect(await newer.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, client.udp.port)]);
  });

  it("a spoofed lone UDP reg does not redirect an already registered server", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    const spoof = await resources.udp(SERVER_IP);
    await spoof.send(encodeUdpRequest("reg", true), master.gamePort);
    await waitFor(
      async () => (await metricTotal(master.node.metrics.udpDatagrams, { command: "reg" })) === 2,
    );
    const client = await connectClient(master, SERVER_IP);
    expect(await client.tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
  });

  it("a ping keeps the server's socket and is not answered", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    server.tcp.send(encodePingRequest());
    await waitFor(
      async () => (await metricTotal(master.node.metrics.tcpCommands, { command: "ping" })) === 1,
    );
    const client = await connectClient(master, SERVER_IP);
    // The first thing the server reads after its ping is the -1, nothing for the ping.
    expect(await server.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, client.udp.port)]);
  });

  it("minVersion closes a reg2 below it without registering, and accepts one at it", async () => {
    const master = await startMaster({ env: { GMNET_MIN_VERSION: "1.2.0" } });
    const old = await resources.tcp(master.gamePort, SERVER_IP);
    old.send(encodeReg2Request("1.1.9", []));
    await old.waitForClose();
    expect(old.chunks).toEqual([]);
    expect(await master.node.backend.registry.findServer(SERVER_IP)).toBeNull();

    const current = await registerRawServer(resources, master, SERVER_IP, {
      version: "1.2.0",
      data: [],
    });
    expect(current.tcp.closed).toBe(false);
    expect((await master.node.backend.registry.findServer(SERVER_IP))?.version).toBe("1.2.0");
  });

  it("idle sockets that send nothing are closed after idleTimeoutMs while a registered server socket stays", async () => {
    const master = await startMaster({ config: { idleTimeoutMs: 300 } });
    const server = await registerRawServer(resources, master, SERVER_IP);
    const idle = await resources.tcp(master.gamePort, "127.0.0.4");
    await idle.waitForClose(5_000);
    expect(idle.chunks).toEqual([]);
    expect(server.tcp.closed).toBe(false);
    expect(await metricTotal(master.node.metrics.badInput, { reason: "idle_timeout" })).toBe(1);
    const client = await connectClient(master, SERVER_IP);
    expect(await server.tcp.waitForChunks(1)).toEqual([peerFoundBytes(CLIENT_IP, client.udp.port)]);
  });
});

describe("lobby", () => {
  const data = lobbyData;
  const registerLobbyServers = (master: TestMaster) => registerLobbyFixture(resources, master);

  it("lobby2 returns filtered, sorted and limited servers as -7 JSON, then closes the connection", async () => {
    const master = await startMaster();
    await registerLobbyServers(master);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(
      encodeLobby2Request({
        filters: data("dm"),
        sortBy: "data2",
        sortDirection: "DESC",
        limit: null,
      }),
    );
    const rows = await lobbyJson(tcp);
    expect(rows.map((row) => row.ip)).toEqual(["127.0.0.5", "127.0.0.2"]);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      "ip",
      "data1",
      "data2",
      "data3",
      "data4",
      "data5",
      "data6",
      "data7",
      "data8",
      "createdTime",
    ]);
    expect(rows[0]).toMatchObject({ data1: "dm", data2: "c", data3: "" });
    expect(typeof rows[0]?.createdTime).toBe("number");
  });

  it("lobby2 sorts ascending and honours the limit", async () => {
    const master = await startMaster();
    await registerLobbyServers(master);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeLobby2Request({ sortBy: "data2", sortDirection: "ASC", limit: 2 }));
    expect((await lobbyJson(tcp)).map((row) => row.ip)).toEqual(["127.0.0.4", "127.0.0.2"]);
  });

  it("lobby2 with no servers returns an empty array", async () => {
    const master = await startMaster();
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeLobby2Request({}));
    expect(await lobbyJson(tcp)).toEqual([]);
  });

  it("classic reg servers appear in the lobby with empty data", async () => {
    const master = await startMaster();
    await registerRawServer(resources, master, SERVER_IP);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeLobby2Request({}));
    const [row] = await lobbyJson(tcp);
    expect(row).toMatchObject({
      ip: SERVER_IP,
      ...Object.fromEntries(data().map((v, i) => [`data${i + 1}`, v])),
    });
  });

  it("with the lobby turned off, lobby2 gets the connection closed without a reply", async () => {
    const master = await startMaster({ env: { GMNET_LOBBY: "false" } });
    await registerRawServer(resources, master, SERVER_IP);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeLobby2Request({}));
    await tcp.waitForClose();
    expect(tcp.chunks).toEqual([]);
  });

  it("the reference lobby order inverts the sort direction", async () => {
    const master = await startMaster({ env: { GMNET_LOBBY_ORDER: "reference" } });
    await registerLobbyServers(master);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeLobby2Request({ sortBy: "data2", sortDirection: "DESC" }));
    expect((await lobbyJson(tcp)).map((row) => row.ip)).toEqual([
      "127.0.0.4",
      "127.0.0.2",
      "127.0.0.5",
    ]);
  });
});

describe("diagnostics and bad input", () => {
  it("version, istesting and testinginfos are answered with exact bytes, each in its own read", async () => {
    const master = await startMaster();
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send("version\n\0istesting\n\0testinginfos\n\0");
    expect(await tcp.waitForChunks(3)).toEqual([
      Buffer.concat([Buffer.from([0xf6]), Buffer.from(`${MASTER_VERSION}\n`)]),
      Buffer.from([0xf8, 0x00]),
      Buffer.from([0xf7, 0x00]),
    ]);
  });

  it("garbage gets the connection closed and the node keeps serving another client", async () => {
    const master = await startMaster();
    const bad = await resources.tcp(master.gamePort, CLIENT_IP);
    bad.send(Buffer.from([0x47, 0x45, 0x54, 0x20, 0x2f, 0x0d, 0x0a, 0xff, 0x00]));
    await bad.waitForClose();
    expect(bad.chunks).toEqual([]);
    expect(await metricTotal(master.node.metrics.badInput, { reason: "unknown_command" })).toBe(1);

    const good = await resources.tcp(master.gamePort, CLIENT_IP);
    good.send("istesting\n\0");
    expect(await good.waitForChunks(1)).toEqual([Buffer.from([0xf8, 0x00])]);
  });

  it("an over-long line gets the connection closed and the node keeps serving another client", async () => {
    const master = await startMaster({ config: { maxLineBytes: 64 } });
    const bad = await resources.tcp(master.gamePort, CLIENT_IP);
    bad.send(Buffer.alloc(10_000, 0x41));
    await bad.waitForClose();
    expect(bad.chunks).toEqual([]);
    expect(await metricTotal(master.node.metrics.badInput, { reason: "line_too_long" })).toBe(1);

    const server = await registerRawServer(resources, master, SERVER_IP);
    const client = await connectClient(master, SERVER_IP);
    expect(await client.tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
  });

  it("a command split across many small writes is understood", async () => {
    const master = await startMaster();
    const server = await registerRawServer(resources, master, SERVER_IP);
    const udp = await resources.udp(CLIENT_IP);
    await udp.send(encodeUdpRequest("connect", false), master.gamePort);
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    const bytes = encodeConnectRequest(SERVER_IP);
    for (let i = 0; i < bytes.length; i += 3) {
      await new Promise<void>((resolve) =>
        tcp.socket.write(bytes.subarray(i, i + 3), () => resolve()),
      );
    }
    expect(await tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, server.udp.port)]);
  });

  it("the master never sends a UDP datagram, whatever it receives", async () => {
    const master = await startMaster();
    const serverUdp = await resources.udp(SERVER_IP);
    const clientUdp = await resources.udp(CLIENT_IP);
    await serverUdp.send(encodeUdpRequest("reg", true), master.gamePort);
    const tcpReg = await resources.tcp(master.gamePort, SERVER_IP);
    tcpReg.send(encodeRegRequest());
    await clientUdp.send(encodeUdpRequest("connect", true), master.gamePort);
    await clientUdp.send(Buffer.from("garbage\n\0"), master.gamePort);
    await clientUdp.send(Buffer.alloc(0), master.gamePort);
    await serverUdp.send(Buffer.alloc(2000, 0xff), master.gamePort);
    await waitFor(
      async () => (await metricTotal(master.node.metrics.udpDatagrams)) === 5,
      5_000,
      "all five datagrams processed",
    );
    // A full mediation round trip later, still nothing came back over UDP.
    const tcp = await resources.tcp(master.gamePort, CLIENT_IP);
    tcp.send(encodeConnectRequest(SERVER_IP));
    expect(await tcp.waitForChunks(1)).toEqual([peerFoundBytes(SERVER_IP, serverUdp.port)]);
    await tcpReg.waitForChunks(1);
    expect(serverUdp.received).toEqual([]);
    expect(clientUdp.received).toEqual([]);
  });
});

describe("PROXY protocol v2", () => {
  /** PROXY v2, trusted from the loopback range the tests connect from. */
  const PROXY_V2_FROM_LOOPBACK = {
    GMNET_PROXY_PROTOCOL: "v2",
    GMNET_PROXY_TRUSTED_CIDRS: "127.0.0.0/8",
  };
  const proxyHeader = proxyV2Header;

  it("a TCP4 header registers the server under the address the proxy reports", async () => {
    const master = await startMaster({ env: PROXY_V2_FROM_LOOPBACK });
    const tcp = await resources.tcp(master.gamePort, "127.0.0.1");
    // Header and command split across writes, as a proxy may forward them.
    tcp.send(proxyHeader("tcp4", Buffer.from([203, 0, 113, 7]), 40000).subarray(0, 10));
    tcp.send(
      Buffer.concat([
        proxyHeader("tcp4", Buffer.from([203, 0, 113, 7]), 40000).subarray(10),
        encodeRegRequest(),
      ]),
    );
    const registration = await waitFor(() =>
      master.node.backend.registry.findServer("203.0.113.7"),
    );
    expect(registration).toMatchObject({ ip: "203.0.113.7", udpPort: null });
    expect(await master.node.backend.registry.findServer("127.0.0.1")).toBeNull();
  });

  it("a TCP6 header with an IPv4-mapped source registers under the plain IPv4 address", async () => {
    const master = await startMaster({ env: PROXY_V2_FROM_LOOPBACK });
    const source = Buffer.alloc(32);
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 9]).copy(source, 0);
    const tcp = await resources.tcp(master.gamePort, "127.0.0.1");
    tcp.send(Buffer.concat([proxyHeader("tcp6", source, 40000), encodeRegRequest()]));
    expect(
      await waitFor(() => master.node.backend.registry.findServer("198.51.100.9")),
    ).toMatchObject({
      ip: "198.51.100.9",
    });
  });

  it("a LOCAL header keeps the socket's own address", async () => {
    const master = await startMaster({ env: PROXY_V2_FROM_LOOPBACK });
    const tcp = await resources.tcp(master.gamePort, SERVER_IP);
    tcp.send(Buffer.concat([proxyHeader("local"), encodeRegRequest()]));
    expect(await waitFor(() => master.node.backend.registry.findServer(SERVER_IP))).toMatchObject({
      ip: SERVER_IP,
    });
  });

  it("a connection without the header is closed when the proxy protocol is on", async () => {
    const master = await startMaster({ env: PROXY_V2_FROM_LOOPBACK });
    const tcp = await resources.tcp(master.gamePort, SERVER_IP);
    tcp.send(encodeRegRequest());
    await tcp.waitForClose();
    expect(await metricTotal(master.node.metrics.badInput, { reason: "proxy_header" })).toBe(1);
    expect(await master.node.backend.registry.findServer(SERVER_IP)).toBeNull();
  });
  it("a connection from outside the trusted proxy ranges is closed before any header is read", async () => {
    const master = await startMaster({
      env: { GMNET_PROXY_PROTOCOL: "v2", GMNET_PROXY_TRUSTED_CIDRS: "127.0.0.1/32" },
    });
    // 127.0.0.9 is not the balancer: its header would claim another game's address.
    const forger = await resources.tcp(master.gamePort, "127.0.0.9");
    forger.send(
      Buffer.concat([proxyHeader("tcp4", Buffer.from([203, 0, 113, 7]), 1), encodeRegRequest()]),
    );
    await forger.waitForClose();
    expect(await metricTotal(master.node.metrics.badInput, { reason: "proxy_untrusted" })).toBe(1);
    expect(await master.node.backend.registry.findServer("203.0.113.7")).toBeNull();
    // The trusted balancer still gets through.
    const balancer = await resources.tcp(master.gamePort, "127.0.0.1");
    balancer.send(
      Buffer.concat([proxyHeader("tcp4", Buffer.from([203, 0, 113, 8]), 2), encodeRegRequest()]),
    );
    expect(
      await waitFor(() => master.node.backend.registry.findServer("203.0.113.8")),
    ).toMatchObject({
      ip: "203.0.113.8",
    });
  });

  it("a v1 header with an impossible address, or a v1 header where v2 is configured, is closed", async () => {
    const v1 = await startMaster({
      env: { GMNET_PROXY_PROTOCOL: "v1", GMNET_PROXY_TRUSTED_CIDRS: "127.0.0.0/8" },
    });
    const bogus = await resources.tcp(v1.gamePort, "127.0.0.1");
    bogus.send(Buffer.from("PROXY TCP4 999.1.1.1 127.0.0.1 40000 6510\r\nreg\n\0", "ascii"));
    await bogus.waitForClose();
    const mixed = await resources.tcp(v1.gamePort, "127.0.0.1");
    mixed.send(Buffer.from("PROXY TCP4 198.51.100.1 ::1 40000 6510\r\nreg\n\0", "ascii"));
    await mixed.waitForClose();
    expect(await metricTotal(v1.node.metrics.badInput, { reason: "proxy_header" })).toBe(2);
    expect(await v1.node.backend.registry.findServer("198.51.100.1")).toBeNull();

    const v2 = await startMaster({ env: PROXY_V2_FROM_LOOPBACK });
    const wrongVersion = await resources.tcp(v2.gamePort, "127.0.0.1");
    wrongVersion.send(
      Buffer.from("PROXY TCP4 198.51.100.2 127.0.0.1 40000 6510\r\nreg\n\0", "ascii"),
    );
    await wrongVersion.waitForClose();
    expect(await v2.node.backend.registry.findServer("198.51.100.2")).toBeNull();
  });
});
