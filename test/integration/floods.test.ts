// Floods are dropped at the door, counted and logged, and the node keeps serving others.
import { describe, expect, it } from "vitest";
import { encodeConnectRequest, encodeUdpRequest } from "../../src/protocol/index.js";
import {
  capturedLogger,
  metricTotal,
  peerFoundBytes,
  RawTcp,
  registerRawServer,
  resourcesClosedAfterEach,
  waitFor,
} from "../helpers/master.js";

/** Closed after each test, which must leave no socket open. */
const resources = resourcesClosedAfterEach();

describe("floods", () => {
  it("drops a UDP flood from one IP beyond the per-IP rate, and still serves a game from another IP", async () => {
    const master = await resources.master({ config: { udpRatePerEndpoint: 10 } });
    const flooder = await resources.udp("127.0.0.66");
    for (let i = 0; i < 200; i++)
      await flooder.send(encodeUdpRequest("connect", true), master.gamePort);
    const metrics = master.node.metrics;
    await waitFor(
      async () =>
        (await metricTotal(metrics.udpDatagrams, { result: "rate_limited" })) +
          (await metricTotal(metrics.udpDatagrams, { command: "connect" })) >=
        200,
      5_000,
      "all 200 datagrams to be seen",
    );
    const passed = await metricTotal(metrics.udpDatagrams, { command: "connect", result: "ok" });
    expect(passed).toBeGreaterThanOrEqual(20); // the burst
    expect(passed).toBeLessThan(60); // far from 200
    expect(await metricTotal(metrics.badInput, { reason: "udp_rate_limited" })).toBe(200 - passed);

    const server = await registerRawServer(resources, master, "127.0.0.2");
    const clientUdp = await resources.udp("127.0.0.3");
    await clientUdp.send(encodeUdpRequest("connect", true), master.gamePort);
    const client = await resources.tcp(master.gamePort, "127.0.0.3");
    client.send(encodeConnectRequest("127.0.0.2"));
    const expected = peerFoundBytes("127.0.0.2", server.udp.port);
    expect(await client.waitForBytes(expected.length)).toEqual(expected);
  });

  it("closes TCP connections beyond the per-IP cap at once, and keeps the ones already open", async () => {
    const master = await resources.master({ config: { maxConnectionsPerSource: 3 } });
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await resources.tcp(master.gamePort, "127.0.0.77"));
    const refused = await resources.tcp(master.gamePort, "127.0.0.77");
    await refused.waitForClose();
    expect(open.every((socket) => !socket.closed)).toBe(true);
    expect(
      await metricTotal(master.node.metrics.badInput, { reason: "too_many_connections" }),
    ).toBe(1);
    open[0]?.close();
    await waitFor(() => master.node.listener.openConnections === 2, 5_000, "the close to be seen");
    const again = await resources.tcp(master.gamePort, "127.0.0.77");
    again.send("version\n\0");
    expect((await again.waitForBytes(1))[0]).toBe(0xf6);
  });
});

describe("source addresses", () => {
  /** One answered game connection from `ip` (the monitor sees a source at its first command). */
  async function versionFrom(port: number, ip: string): Promise<void> {
    const tcp = await RawTcp.connect(port, ip);
    tcp.send("version\n\0");
    await tcp.waitForChunks(1);
    tcp.close();
  }

  it("two addresses alternating 50:1 log one collapse line, not one per change of address", async () => {
    const { logger, lines } = capturedLogger();
    const master = await resources.master({ logger });
    for (let cycle = 0; cycle < 3; cycle++) {
      for (let i = 0; i < 50; i++) await versionFrom(master.gamePort, "127.0.3.1");
      await versionFrom(master.gamePort, "127.0.3.2");
    }
    const changes = lines.filter((line) =>
      /load balancer is probably hiding|several addresses again/.test(String(line.msg)),
    );
    expect(changes).toHaveLength(1);
    expect(master.node.listener.sourceMonitor.isCollapsed).toBe(true);
  });
});
