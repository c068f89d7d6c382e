// What a pipelining client, a slow store, a drain or a half-failed start must not break.
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { MemoryBackend } from "../../src/cluster/memory/memory-backend.js";
import { loadConfig } from "../../src/config/index.js";
import { MasterNode } from "../../src/master-node.js";
import {
  encodeConnectRequest,
  encodeLobby2Request,
  encodeReg2Request,
  encodeUdpRequest,
} from "../../src/protocol/index.js";
import {
  freeTcpPort,
  lobbyData,
  MASTER_HOST,
  metricTotal,
  peerFoundBytes,
  type RawTcp,
  registerRawServer,
  resourcesClosedAfterEach,
  waitFor,
} from "../helpers/master.js";
import { runUntilExit } from "../helpers/processes.js";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

describe("robustness", () => {
  it("handles a connection's commands one at a time and closes a pipelining flood", async () => {
    const master = await resources.master();
    const flood = await resources.tcp(master.gamePort, "127.0.0.40");
    const oneLobby = encodeLobby2Request({});
    flood.send(Buffer.concat(Array.from({ length: 40 }, () => oneLobby)));
    await flood.waitForClose();
    const metrics = master.node.metrics;
    expect(await metricTotal(metrics.badInput, { reason: "command_flood" })).toBe(1);
    // Not forty store queries: at most the one that started before the flood was seen.
    expect(await metricTotal(metrics.lobbyRequests)).toBeLessThanOrEqual(1);
  });

  it("answers a waiting connect with -2 even when the idle timeout is shorter than the wait", async () => {
    const master = await resources.master({ config: { idleTimeoutMs: 200, clientUdpWaitMs: 800 } });
    await registerRawServer(resources, master, "127.0.0.2");
    const client = await resources.tcp(master.gamePort, "127.0.0.3");
    client.send(encodeConnectRequest("127.0.0.2")); // no UDP connect: it waits 800 ms
    expect(await client.waitForBytes(1, 5_000)).toEqual(Buffer.from([0xfe]));
  });

  it("lets a draining node write the -1s it still has paced for a server before closing it", async () => {
    const master = await resources.master({ config: { replyGapMs: 300 } });
    const server = await registerRawServer(resources, master, "127.0.0.2");
    const ports: number[] = [];
    for (const ip of ["127.0.0.3", "127.0.0.4"]) {
      const udp = await resources.udp(ip);
      await udp.send(encodeUdpRequest("connect", true), master.gamePort);
      ports.push(udp.port);
      const client = await resources.tcp(master.gamePort, ip);
      client.send(encodeConnectRequest("127.0.0.2"));
      await client.waitForBytes(1);
    }
    await master.node.drain();
    const expected = Buffer.concat([
      peerFoundBytes("127.0.0.3", ports[0] as number),
      peerFoundBytes("127.0.0.4", ports[1] as number),
    ]);
    expect(await server.tcp.waitForBytes(expected.length)).toEqual(expected);
    await server.tcp.waitForClose();
  });

  it("resets a registration the store cannot take, so the game's next ping fails and it registers again", async () => {
    const master = await resources.master({
      createBackend: async (config, timings) => {
        const backend = new MemoryBackend(config.nodeId, timings);
        backend.registry.registerServer = () => Promise.reject(new Error("store unreachable"));
        return backend;
      },
    });
    // After a FIN a GML game's first ping write still succeeds: it would notice a ping later.
    const ended = await new Promise<string>((resolve) => {
      const socket = connect(
        {
          host: MASTER_HOST,
          port: master.gamePort,
          localAddress: "127.0.8.1",
          allowHalfOpen: true,
        },
        () => socket.write(encodeReg2Request("1.2.5", lobbyData("g"))),
      );
      resources.add(socket, (s) => s.destroy());
      socket.on("end", () => resolve("FIN"));
      socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    });
    expect(ended).toBe("ECONNRESET");
    expect(master.node.mediator.owned.count).toBe(0);
  });

  it("closes promptly when Redis was never reachable", async () => {
    const deadPort = await freeTcpPort();
    const master = await resources.master({ env: { REDIS_URL: `redis://127.0.0.1:${deadPort}` } });
    // Ready (it can answer -2 and an empty lobby at once), with the store reported down.
    expect(master.node.readiness()).toMatchObject({ ready: true, checks: { store: false } });
    const startedAt = Date.now();
    await master.node.close();
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it("releases the TCP port when the UDP port is taken and start fails", async () => {
    const port = await freeTcpPort();
    const squatter = createSocket("udp4");
    await new Promise<void>((resolve) => squatter.bind({ address: "127.0.0.1", port }, resolve));
    try {
      const config = {
        ...loadConfig({ argv: [], env: { GMNET_HOST: "127.0.0.1" } }),
        port,
        httpPort: 0,
      };
      await expect(
        MasterNode.start(config, pino({ level: "silent" }), { processMetrics: false }),
      ).rejects.toThrow(/EADDRINUSE/);
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once("error", reject);
        probe.listen(port, "127.0.0.1", resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it("exits 2 with one line naming the option when its game port is taken, no stack trace", async () => {
    const port = await freeTcpPort("127.0.0.64");
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.64", resolve));
    try {
      const { code, stderr } = await runUntilExit({
        GMNET_HOST: "127.0.0.64",
        GMNET_PORT: String(port),
      });
      expect(code).toBe(2);
      expect(stderr.trim().split("\n")).toEqual([
        `gmnet-master: GMNET_PORT: 127.0.0.64:${port} is in use by another process (EADDRINUSE)`,
      ]);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});

describe("robustness: idle connections and the PROXY-protocol cap", () => {
  it("closes a connection that sends bytes but never a command (NULs, blank lines, half a line)", async () => {
    const master = await resources.master({ config: { idleTimeoutMs: 300 } });
    const trickles = await Promise.all(
      ["127.0.0.51", "127.0.0.52", "127.0.0.53"].map((ip) => resources.tcp(master.gamePort, ip)),
    );
    const payloads = [Buffer.from([0]), Buffer.from("\n"), Buffer.from("r")];
    const timer = setInterval(() => {
      trickles.forEach((socket, i) => {
        if (!socket.closed) socket.send(payloads[i] as Buffer);
      });
    }, 100);
    try {
      await Promise.all(trickles.map((socket) => socket.waitForClose(3_000)));
    } finally {
      clearInterval(timer);
    }
  });

  it("closes a lobby connection on time even when a command followed lobby2 in the same write", async () => {
    const master = await resources.master({ config: { idleTimeoutMs: 300 } });
    const lobby = await resources.tcp(master.gamePort, "127.0.0.54");
    lobby.send(Buffer.concat([encodeLobby2Request({}), Buffer.from("version\n\0")]));
    await lobby.waitForClose(3_000);
    expect(lobby.received[0]).toBe(0xf9);
  });

  it("closes a socket kept busy past its lifetime (six idle timeouts), never a registered server's", async () => {
    const master = await resources.master({ config: { idleTimeoutMs: 200 } });
    const server = await registerRawServer(resources, master, "127.0.0.56");
    const busy = await resources.tcp(master.gamePort, "127.0.0.57");
    // A command after every reply: never idle, so only the lifetime can close it.
    busy.socket.on("data", () => busy.send("version\n\0"));
    busy.send("version\n\0");
    await busy.waitForClose(5_000);
    const metrics = master.node.metrics;
    expect(await metricTotal(metrics.badInput, { reason: "socket_lifetime" })).toBe(1);
    expect(await metricTotal(metrics.badInput, { reason: "idle_timeout" })).toBe(0);
    expect(busy.chunks.length).toBeGreaterThan(5);
    // The server's socket opened first: its lifetime would have ended too.
    expect(server.tcp.closed).toBe(false);
    expect(await master.node.backend.registry.findServer("127.0.0.56")).not.toBeNull();
  });

  it("answers a connect in flight when its socket's lifetime ends, then closes the socket", async () => {
    // Lifetime 600 ms, the connect waits 1.5 s for a UDP connect that never comes.
    const master = await resources.master({
      config: { idleTimeoutMs: 100, clientUdpWaitMs: 1_500 },
    });
    await registerRawServer(resources, master, "127.0.0.58");
    const client = await resources.tcp(master.gamePort, "127.0.0.59");
    client.send(encodeConnectRequest("127.0.0.58"));
    await client.waitForClose(5_000);
    expect(client.received).toEqual(Buffer.from([0xfe]));
    const metrics = master.node.metrics;
    expect(await metricTotal(metrics.badInput, { reason: "socket_lifetime" })).toBe(1);
    expect(await metricTotal(metrics.badInput, { reason: "idle_timeout" })).toBe(0);
  });

  it("caps connections per real source when PROXY protocol names the source", async () => {
    const master = await resources.master({
      config: {
        proxyProtocol: "v1",
        proxyTrustedCidrs: [{ family: 4, address: "127.0.0.0", prefixLength: 8 }],
        maxConnectionsPerSource: 2,
      },
    });
    const header = Buffer.from("PROXY TCP4 198.51.100.7 127.0.0.1 40000 6510\r\n", "ascii");
    const sockets: RawTcp[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = await resources.tcp(master.gamePort, "127.0.0.55");
      socket.send(Buffer.concat([header, Buffer.from("version\n\0")]));
      sockets.push(socket);
    }
    await waitFor(() => sockets.filter((s) => s.closed).length === 2, 3_000, "two refused");
    expect(sockets.filter((s) => !s.closed)).toHaveLength(2);
    expect(
      await metricTotal(master.node.metrics.badInput, { reason: "too_many_connections" }),
    ).toBe(2);
  });
});
