// Confirms that every given server is registered, with its UDP port, on a
// master that has no admin API (the floor): one probe connect per server, from
// a probe address, retried until the master answers the probe with the
// server's own endpoint. The servers see one extra -1 each (naming the probe),
// before any measured run (ServerFleet.run resets its counts).
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as tcpConnect } from "node:net";
import {
  encodeConnectRequest,
  encodeUdpRequest,
  MasterReplyParser,
  type MasterReply,
} from "../../src/protocol/index.js";
import { ipFor } from "../lib/ips.js";
import type { Target } from "../lib/load.js";
import { until } from "../lib/procs.js";

const UDP_CONNECT = encodeUdpRequest("connect", true);

function bindProbe(ip: string): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind({ address: ip, port: 0 }, () => resolve(socket));
  });
}

/** One GML-style connect (UDP then TCP) from `udp`'s address; resolves with the first reply. */
export async function probeConnect(
  target: Target,
  udp: UdpSocket,
  serverIp: string,
): Promise<MasterReply> {
  const localAddress = udp.address().address;
  await new Promise<void>((resolve, reject) =>
    udp.send(UDP_CONNECT, target.port, target.host, (error) => (error ? reject(error) : resolve())),
  );
  return new Promise((resolve, reject) => {
    const parser = new MasterReplyParser();
    const tcp = tcpConnect({ host: target.host, port: target.port, localAddress }, () => {
      tcp.setNoDelay(true);
      tcp.write(encodeConnectRequest(serverIp));
    });
    tcp.on("data", (chunk: Buffer) => {
      const [reply] = parser.push(chunk);
      if (!reply) return;
      tcp.destroy();
      resolve(reply);
    });
    tcp.on("error", reject);
    tcp.on("close", () => reject(new Error("closed without a reply")));
  });
}

export interface ExpectedServer {
  ip: string;
  udpPort: number;
}

/** Probes from `parallel` addresses at once, each one server at a time. */
export async function confirmRegisteredByProbe(
  target: Target,
  servers: readonly ExpectedServer[],
  options: { timeoutMs?: number; parallel?: number } = {},
): Promise<void> {
  const parallel = Math.max(1, Math.min(options.parallel ?? 16, servers.length));
  const probes = await Promise.all(
    Array.from({ length: parallel }, (_, i) => bindProbe(ipFor("probe", i))),
  );
  let next = 0;
  const worker = async (udp: UdpSocket) => {
    while (next < servers.length) {
      const server = servers[next++] as ExpectedServer;
      await until(
        async () => {
          const reply = await probeConnect(target, udp, server.ip);
          return reply.kind === "peer" && reply.ip === server.ip && reply.port === server.udpPort;
        },
        options.timeoutMs ?? 30_000,
        `server ${server.ip} registered with UDP port ${server.udpPort}`,
      );
    }
  };
  try {
    await Promise.all(probes.map(worker));
  } finally {
    for (const udp of probes) udp.close();
  }
}
