// The SDK's GameServer / GameClient / downloadLobby against a real master on loopback.
import { describe, expect, it } from "vitest";
import { encodeRegRequest, encodeUdpRequest } from "../../src/protocol/index.js";
import {
  GameClient,
  type GameClientOptions,
  GameServer,
  type GameServerOptions,
  downloadLobby,
} from "../../src/sdk/index.js";
import {
  MASTER_HOST,
  once,
  resourcesClosedAfterEach,
  type TestMaster,
  waitFor,
} from "../helpers/master.js";

const SERVER_IP = "127.0.0.2";
const CLIENT_IP = "127.0.0.3";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

function gameServer(master: TestMaster, options: Partial<GameServerOptions> = {}): GameServer {
  const server = new GameServer({
    masterHost: MASTER_HOST,
    masterPort: master.gamePort,
    bindHost: SERVER_IP,
    stepMs: 10,
    // GML-faithful keepalive, with the game's 3 minutes shortened for the test.
    pingIntervalMs: 100,
    ...options,
  });
  return resources.add(server, (s) => s.close());
}

function gameClient(master: TestMaster, options: Partial<GameClientOptions> = {}): GameClient {
  const client = new GameClient({
    masterHost: MASTER_HOST,
    masterPort: master.gamePort,
    bindHost: CLIENT_IP,
    stepMs: 10,
    masterTimeoutMs: 5_000,
    punchTimeoutMs: 5_000,
    ...options,
  });
  return resources.add(client, (c) => c.close());
}

async function registeredPort(master: TestMaster, ip: string): Promise<number> {
  return waitFor(
    async () => (await master.node.backend.registry.findServer(ip))?.udpPort ?? null,
    5_000,
    `registration of ${ip}`,
  );
}

describe("SDK", () => {
  it("a GameServer and a GameClient punch through the master and the client is welcomed and listed as a player", async () => {
    const master = await resources.master();
    const server = gameServer(master);
    await server.start();
    expect(await registeredPort(master, SERVER_IP)).toBe(server.udpPort);

    const client = gameClient(master);
    const peerSeen = once<{ ip: string; port: number }>(server, "peer");
    const result = await client.connect(SERVER_IP);
    expect(result).toEqual({
      outcome: "welcomed",
      server: { ip: SERVER_IP, port: server.udpPort },
    });
    expect(await peerSeen).toEqual({ ip: CLIENT_IP, port: client.udpPort });
    expect(server.players()).toContainEqual({ ip: CLIENT_IP, port: client.udpPort });
  });

  it("the SDK punches with raw UDP (no GameMaker header) too", async () => {
    const master = await resources.master();
    const server = gameServer(master, { gameMakerHeader: false });
    await server.start();
    await registeredPort(master, SERVER_IP);
    const client = gameClient(master, { gameMakerHeader: false });
    expect(await client.connect(SERVER_IP)).toMatchObject({ outcome: "welcomed" });
  });

  it("a GameClient asking for an unregistered server gets not-found", async () => {
    const master = await resources.master();
    const client = gameClient(master);
    expect(await client.connect("127.0.0.99")).toEqual({ outcome: "not-found" });
  });

  it("a GameServer re-registers (at a failing ping, as the GML does) after the master closes its socket for a newer registration", async () => {
    const master = await resources.master();
    const server = gameServer(master);
    await server.start();
    await registeredPort(master, SERVER_IP);

    // Another registration from the same IP supersedes the server's socket.
    const closed = once(server, "master-closed");
    const intruder = await resources.tcp(master.gamePort, SERVER_IP);
    const intruderUdp = await resources.udp(SERVER_IP);
    await intruderUdp.send(encodeUdpRequest("reg", true), master.gamePort);
    const reregistered = new Promise<void>((resolve) => {
      server.on("registered", () => resolve());
    });
    intruder.send(encodeRegRequest());
    await closed;
    await reregistered;
    // The GameServer's new registration wins again and a client can reach it.
    await intruder.waitForClose();
    expect(await registeredPort(master, SERVER_IP)).toBe(server.udpPort);
    const client = gameClient(master);
    expect(await client.connect(SERVER_IP)).toMatchObject({
      outcome: "welcomed",
      server: { ip: SERVER_IP, port: server.udpPort },
    });
  });

  it("a GameServer re-registers (at a failing ping) with a master restarted on the same port", async () => {
    const first = await resources.master();
    const port = first.gamePort;
    const server = gameServer(first);
    await server.start();
    await registeredPort(first, SERVER_IP);

    const closed = once(server, "master-closed");
    await first.close();
    await closed;
    const second = await resources.master({ config: { port } });
    expect(await registeredPort(second, SERVER_IP)).toBe(server.udpPort);
  });

  it("downloadLobby returns the registered servers with their data", async () => {
    const master = await resources.master();
    const a = gameServer(master, {
      lobby: { version: "1.2.5", data: ["Alpha", "dm", "", "", "", "", "", "4"] },
    });
    const b = gameServer(master, {
      bindHost: "127.0.0.4",
      lobby: { version: "1.2.5", data: ["Beta", "ctf", "", "", "", "", "", "8"] },
    });
    await a.start();
    await b.start();
    await registeredPort(master, SERVER_IP);
    await registeredPort(master, "127.0.0.4");

    const all = await downloadLobby({
      masterHost: MASTER_HOST,
      masterPort: master.gamePort,
      sortBy: "data1",
      sortDirection: "ASC",
    });
    expect(all.map((s) => [s.ip, s.data[0], s.data[7]])).toEqual([
      [SERVER_IP, "Alpha", "4"],
      ["127.0.0.4", "Beta", "8"],
    ]);
    expect(all[0]?.createdTime).toBeGreaterThan(1_600_000_000);

    const filtered = await downloadLobby({
      masterHost: MASTER_HOST,
      masterPort: master.gamePort,
      filters: ["", "ctf", "", "", "", "", "", ""],
    });
    expect(filtered.map((s) => s.ip)).toEqual(["127.0.0.4"]);
  });

  it("commitData registers the new data at once and pings one full interval later, as the GML resets its counter", async () => {
    const master = await resources.master();
    const interval = 1_000;
    const server = gameServer(master, {
      pingIntervalMs: interval,
      lobby: { version: "1.2.5", data: ["Alpha", "old", "", "", "", "", "", ""] },
    });
    await server.start();
    await registeredPort(master, SERVER_IP);
    await new Promise((resolve) => setTimeout(resolve, interval * 0.8));
    const committedAt = Date.now();
    await server.commitData(["Alpha", "new", "", "", "", "", "", ""]);
    await waitFor(
      async () => (await master.node.backend.registry.findServer(SERVER_IP))?.data[1] === "new",
      5_000,
      "the new data stored",
    );
    await once(server, "ping");
    // A lower bound only: a slow machine delays pings, it cannot bring one early.
    expect(Date.now() - committedAt).toBeGreaterThanOrEqual(interval * 0.9);
  });
});

describe("SDK cleanup", () => {
  it("a GameServer closed while it is still starting leaves no registration or socket behind", async () => {
    const master = await resources.master();
    const server = new GameServer({
      masterHost: MASTER_HOST,
      masterPort: master.gamePort,
      bindHost: SERVER_IP,
    });
    const starting = server.start().then(
      () => "started",
      (error: Error) => error.message,
    );
    await server.close();
    await starting;
    await waitFor(
      async () =>
        master.node.listener.openConnections === 0 &&
        (await master.node.backend.registry.findServer(SERVER_IP)) === null,
      3_000,
      "no connection and no registration left at the master",
    );
  });

  it("like the GML, a server whose socket the master closed with FIN re-registers only at its second ping; after an RST at its next", async () => {
    const master = await resources.master();
    const server = gameServer(master, { pingIntervalMs: 400 });
    const events: string[] = [];
    for (const event of ["master-closed", "ping", "ping-failed", "registered"])
      server.on(event, () => events.push(event));
    await server.start();
    await registeredPort(master, SERVER_IP);
    const held = () => master.node.mediator.owned.registrations()[0]?.connectionId;
    const first = await waitFor(() => held(), 5_000, "the held socket");
    events.length = 0;
    // FIN: the next ping still "succeeds" locally (it draws the RST), the one after fails.
    master.node.mediator.owned.connection(first)?.close("test: FIN");
    await waitFor(() => events.includes("registered"), 5_000, "re-registration after FIN");
    expect(events.slice(events.indexOf("master-closed"))).toEqual([
      "master-closed",
      "ping",
      "ping-failed",
      "registered",
    ]);
    const second = await waitFor(
      () => (held() !== first ? held() : undefined),
      5_000,
      "the new socket",
    );
    events.length = 0;
    master.node.mediator.owned.connection(second)?.reset("test: RST");
    await waitFor(() => events.includes("registered"), 5_000, "re-registration after RST");
    // The first ping after an RST fails: no ping gets through in between.
    expect(events.filter((e) => e !== "master-closed")).toEqual(["ping-failed", "registered"]);
  });

  it("re-registers on close only when asked to (reregister: on-close, a tool's shortcut)", async () => {
    const master = await resources.master();
    const server = gameServer(master, {
      reregister: "on-close",
      reconnectDelayMs: 20,
      pingIntervalMs: 60_000,
    });
    await server.start();
    await registeredPort(master, SERVER_IP);
    const first = master.node.mediator.owned.registrations()[0]?.connectionId as string;
    const reregistered = once(server, "registered");
    master.node.mediator.owned.connection(first)?.close("test: FIN");
    await reregistered; // long before its 60 s ping
  });
});
