// IPv6 and dual stack: a master bound to "::" serves IPv6 and IPv4 games,
// and IPv4 peers are never seen as "::ffff:" addresses.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Resources, waitFor } from "../helpers/master.js";
import { peerReply, tcpConnect, tcpReg2, UDP_CONNECT, UDP_REG } from "../helpers/wire.js";

const resources = new Resources();
afterEach(async () => {
  await resources.closeAll();
});

async function udp(type: "udp4" | "udp6", address: string): Promise<UdpSocket> {
  const socket = createSocket(type);
  await new Promise<void>((resolve) => socket.bind({ address, port: 0 }, resolve));
  return resources.add(socket, (s) => new Promise<void>((resolve) => s.close(() => resolve())));
}

async function tcp(
  host: string,
  port: number,
  localAddress: string,
): Promise<{ socket: Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host, port, localAddress }, () => resolve(s));
    s.once("error", reject);
  });
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  resources.add(socket, (s) => s.destroy());
  return { socket, received: () => Buffer.concat(chunks) };
}

describe("IPv6 and dual stack", () => {
  it("introduces an IPv6 game server to an IPv4 client through a dual-stack master", async () => {
    const master = await resources.master({ config: { host: "::" } });
    const serverUdp = await udp("udp6", "::1");
    serverUdp.send(UDP_REG, master.gamePort, "::1");
    const server = await tcp("::1", master.gamePort, "::1");
    server.socket.write(tcpReg2("1.2.4", ["Game"]));
    await waitFor(
      async () => (await master.node.backend.registry.findServer("::1"))?.udpPort,
      5_000,
      "v6 registration",
    );

    const clientUdp = await udp("udp4", "127.0.0.3");
    clientUdp.send(UDP_CONNECT, master.gamePort, "127.0.0.1");
    const client = await tcp("127.0.0.1", master.gamePort, "127.0.0.3");
    client.socket.write(tcpConnect("0:0:0:0:0:0:0:1")); // any spelling of the address finds it

    const toClient = peerReply("::1", serverUdp.address().port);
    const toServer = peerReply("127.0.0.3", clientUdp.address().port);
    await waitFor(() => client.received().length >= toClient.length, 5_000, "client -1");
    await waitFor(() => server.received().length >= toServer.length, 5_000, "server -1");
    expect(client.received()).toEqual(toClient);
    expect(server.received()).toEqual(toServer);
  });
});
